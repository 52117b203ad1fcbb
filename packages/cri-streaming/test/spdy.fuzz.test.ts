/**
 * Property-based fuzzing of the SPDY frame decoder and header block parser: any bytes, and
 * mutations of valid frames, either decode or fail with SpdyProtocolError (never another
 * exception, never a frame past the limits); valid frames round-trip.
 * Corpus: test/fuzz-corpus/spdy-frames/*.bin (byte streams), replayed through FrameDecoder.
 */
import * as path from 'node:path';
import * as fc from 'fast-check';
import { corpusFiles, fuzz, fuzzTimeout } from '../../../tools/fuzz/support';
import { SpdyProtocolError } from '../src/spdy/errors';
import { encodeFrame, FrameDecoder, type Frame, type FrameLimits } from '../src/spdy/frame';
import { decodeHeaderBlock, encodeHeaderBlock } from '../src/spdy/headers';

const CORPUS = path.join(__dirname, 'fuzz-corpus', 'spdy-frames');
const LIMITS: FrameLimits = { maxDataPayload: 4096, maxControlPayload: 1024 };

/** Decode `bytes` split at `cut`: only SpdyProtocolError may escape, and frames respect the limits. */
function decodeAll(bytes: Buffer, cut: number): void {
  const d = new FrameDecoder(LIMITS);
  try {
    for (const part of [bytes.subarray(0, cut), bytes.subarray(cut)])
      for (const f of d.push(Buffer.from(part))) {
        if (f.type === 'data' && f.data.length > LIMITS.maxDataPayload) throw new Error('data frame past the limit');
        if ('headerBlock' in f && f.headerBlock.length > LIMITS.maxControlPayload) throw new Error('header block past the limit');
      }
  } catch (e) {
    if (!(e instanceof SpdyProtocolError)) throw e;
  }
}

const id = fc.integer({ min: 1, max: 0x7fffffff });
const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a));
const frame: fc.Arbitrary<Frame> = fc.oneof(
  fc.record({ type: fc.constant('data' as const), streamId: id, fin: fc.boolean(), data: bytes(64) }),
  fc.record({
    type: fc.constant('syn_stream' as const),
    streamId: id,
    associatedTo: fc.integer({ min: 0, max: 0x7fffffff }),
    priority: fc.integer({ min: 0, max: 7 }),
    fin: fc.boolean(),
    unidirectional: fc.boolean(),
    headerBlock: bytes(64),
  }),
  fc.record({ type: fc.constantFrom('syn_reply' as const, 'headers' as const), streamId: id, fin: fc.boolean(), headerBlock: bytes(64) }),
  fc.record({ type: fc.constant('rst_stream' as const), streamId: fc.integer({ min: 0, max: 0x7fffffff }), status: fc.nat() }),
  fc.record({ type: fc.constant('ping' as const), id: fc.nat() }),
  fc.record({ type: fc.constant('goaway' as const), lastGoodStreamId: fc.integer({ min: 0, max: 0x7fffffff }), status: fc.nat() }),
  fc.record({ type: fc.constant('window_update' as const), streamId: fc.integer({ min: 0, max: 0x7fffffff }), delta: fc.integer({ min: 0, max: 0x7fffffff }) }),
  fc.record({
    type: fc.constant('settings' as const),
    clear: fc.boolean(),
    entries: fc.array(fc.record({ flags: fc.integer({ min: 0, max: 255 }), id: fc.integer({ min: 0, max: 0xffffff }), value: fc.nat() }), { maxLength: 4 }),
  }),
);

describe('SPDY frame decoder fuzzing', () => {
  it(
    'valid frames round-trip',
    () => {
      fuzz(
        fc.array(frame, { minLength: 1, maxLength: 8 }),
        (frames) => {
          const wire = Buffer.concat(frames.map(encodeFrame));
          expect(new FrameDecoder({ maxDataPayload: 1 << 20, maxControlPayload: 1 << 20 }).push(wire)).toEqual(frames);
        },
        { numRuns: 500 },
      );
    },
    fuzzTimeout,
  );

  it(
    'arbitrary bytes decode or fail with SpdyProtocolError',
    () => {
      fuzz(fc.tuple(bytes(256), fc.nat(256)), ([b, cut]) => decodeAll(b, cut), {
        numRuns: 2000,
        corpus: { dir: CORPUS, bytes: ([b]) => b },
      });
    },
    fuzzTimeout,
  );

  it(
    'mutated valid frames decode or fail with SpdyProtocolError',
    () => {
      const mutated = fc
        .tuple(fc.array(frame, { minLength: 1, maxLength: 4 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.nat(256))
        .map(([frames, flips, cut]) => {
          const wire = Buffer.concat(frames.map(encodeFrame));
          for (const [at, v] of flips) wire[at % wire.length] = v;
          return [wire, cut] as const;
        });
      fuzz(mutated, ([b, cut]) => decodeAll(b, cut), { numRuns: 2000, corpus: { dir: CORPUS, bytes: ([b]) => b } });
    },
    fuzzTimeout,
  );

  it(
    'header blocks: any bytes parse or fail with SpdyProtocolError; encoded ones parse back',
    () => {
      fuzz(
        bytes(128),
        (b) => {
          try {
            const h = decodeHeaderBlock(b);
            expect(encodeHeaderBlock(h).length).toBeLessThanOrEqual(b.length + 4 * h.size);
          } catch (e) {
            if (!(e instanceof SpdyProtocolError)) throw e;
          }
        },
        { numRuns: 2000 },
      );
      fuzz(
        fc.uniqueArray(
          fc.tuple(
            fc.stringMatching(/^[a-z0-9-]{1,12}$/),
            fc.array(
              fc.string({ maxLength: 12 }).filter((s) => !s.includes('\0')),
              { minLength: 1, maxLength: 3 },
            ),
          ),
          {
            selector: ([k]) => k,
            maxLength: 6,
          },
        ),
        (pairs) => {
          const h = new Map(pairs);
          expect(decodeHeaderBlock(encodeHeaderBlock(h))).toEqual(h);
        },
        { numRuns: 500 },
      );
    },
    fuzzTimeout,
  );

  it('replays the corpus', () => {
    for (const { bytes: b } of corpusFiles(CORPUS)) for (let cut = 0; cut <= Math.min(b.length, 16); cut++) decodeAll(b, cut);
  });
});
