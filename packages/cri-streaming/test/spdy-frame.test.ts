/** SPDY/3.1 framing: round trips, incremental decoding, the zlib dictionary and header blocks, malformed input. */
import { createHash } from 'node:crypto';
import * as zlib from 'node:zlib';
import { SPDY_DICTIONARY, SPDY_DICTIONARY_ID } from '../src/spdy/dictionary';
import { SpdyProtocolError } from '../src/spdy/errors';
import { encodeFrame, FrameDecoder, type Frame } from '../src/spdy/frame';
import { decodeHeaderBlock, encodeHeaderBlock, HeaderCompressor, HeaderDecompressor, headersOf } from '../src/spdy/headers';

const FRAMES: Frame[] = [
  { type: 'data', streamId: 1, fin: false, data: Buffer.from('hello') },
  { type: 'data', streamId: 0x7fffffff, fin: true, data: Buffer.alloc(0) },
  { type: 'syn_stream', streamId: 3, associatedTo: 0, priority: 7, fin: false, unidirectional: true, headerBlock: Buffer.from([1, 2, 3]) },
  { type: 'syn_reply', streamId: 3, fin: true, headerBlock: Buffer.from([9]) },
  { type: 'headers', streamId: 5, fin: false, headerBlock: Buffer.alloc(0) },
  { type: 'rst_stream', streamId: 7, status: 5 },
  {
    type: 'settings',
    clear: true,
    entries: [
      { flags: 1, id: 7, value: 65536 },
      { flags: 0, id: 4, value: 100 },
    ],
  },
  { type: 'ping', id: 0xfffffffe },
  { type: 'goaway', lastGoodStreamId: 9, status: 1 },
  { type: 'window_update', streamId: 0, delta: 0x7fffffff },
];

describe('SPDY frames', () => {
  it('round-trip every frame type, whole and a byte at a time', () => {
    const wire = Buffer.concat(FRAMES.map(encodeFrame));
    expect(new FrameDecoder().push(wire)).toEqual(FRAMES);
    const d = new FrameDecoder();
    const out: Frame[] = [];
    for (const b of wire) out.push(...d.push(Buffer.from([b])));
    expect(out).toEqual(FRAMES);
    expect(d.pending).toBe(0);
  });

  it('lay out a control frame as the draft says', () => {
    // PING id 1: C=1, version 3, type 6, flags 0, length 4.
    expect(encodeFrame({ type: 'ping', id: 1 }).toString('hex')).toBe('800300060000000400000001');
    // DATA stream 1, FIN, 2 bytes.
    expect(encodeFrame({ type: 'data', streamId: 1, fin: true, data: Buffer.from('ok') }).toString('hex')).toBe('0000000101000002' + '6f6b');
  });

  it('ignore control frame types SPDY/3.1 does not define', () => {
    const unknown = Buffer.from('8003000a00000002abcd', 'hex');
    expect(new FrameDecoder().push(unknown)).toEqual([{ type: 'unknown', controlType: 10 }]);
  });

  const malformed: [string, string, RegExp][] = [
    ['version 2', '800200060000000400000001', /SPDY version 2/],
    ['a short PING', '80030006000000020000', /PING of 2 bytes/],
    ['a short SYN_STREAM', '800300010000000400000001', /SYN_STREAM of 4 bytes/],
    ['SYN_STREAM for stream 0', '800300010000000a00000000000000000000', /stream 0/],
    ['DATA for stream 0', '0000000000000000', /stream 0/],
    ['SETTINGS count past the payload', '800300040000000400000002', /SETTINGS/],
    ['an oversized control frame', '80030008000fffff', /control frame of 1048575 bytes/],
    ['an oversized data frame', '00000001007fffff', /data frame of 8388607 bytes/],
  ];
  it.each(malformed)('reject %s', (_what, hex, msg) => {
    const d = new FrameDecoder({ maxControlPayload: 65536, maxDataPayload: 1 << 20 });
    expect(() => d.push(Buffer.from(hex, 'hex'))).toThrow(msg);
    expect(() => d.push(Buffer.alloc(0))).toThrow(SpdyProtocolError);
  });
});

describe('SPDY header blocks', () => {
  it('use the dictionary Go’s framer uses (1,423 bytes, no trailing NUL)', () => {
    expect(SPDY_DICTIONARY.length).toBe(1423);
    expect(createHash('sha256').update(SPDY_DICTIONARY).digest('hex')).toBe('51d27341373f923f3cd88e1eb7162aeaa3723d7585ff2399201dc06498407f02');
    // zlib names the dictionary by its Adler-32 in the stream header: compare with zlib's own.
    const z = zlib.deflateSync(Buffer.from('x'), { dictionary: SPDY_DICTIONARY });
    expect(z.readUInt32BE(2)).toBe(SPDY_DICTIONARY_ID);
  });

  it('encode and decode name/value pairs, several values NUL-joined', () => {
    const h = headersOf({ streamType: 'error', port: ['80', '443'], requestid: '0' });
    const back = decodeHeaderBlock(encodeHeaderBlock(h));
    expect([...back]).toEqual([
      ['streamtype', ['error']],
      ['port', ['80', '443']],
      ['requestid', ['0']],
    ]);
  });

  it.each([
    ['trailing bytes', Buffer.concat([encodeHeaderBlock(headersOf({ a: 'b' })), Buffer.from([0])]), /after the last pair/],
    ['a length past the end', Buffer.from('00000001000000ff61', 'hex'), /past the end/],
    ['a duplicate name', Buffer.from('00000002' + '0000000161' + '0000000162' + '0000000141' + '0000000163', 'hex'), /duplicate header "a"/],
    ['too many pairs', Buffer.from('00010000', 'hex'), /65536 pairs/],
    ['an empty name', Buffer.from('000000010000000000000000', 'hex'), /empty name/],
  ])('reject %s', (_what, block, msg) => {
    expect(() => decodeHeaderBlock(block)).toThrow(msg);
  });

  it('inflate blocks from a real zlib stream with the dictionary, sync-flushed per block as Go writes them', async () => {
    const deflate = zlib.createDeflate({ dictionary: SPDY_DICTIONARY, level: 9 });
    const compressed: Buffer[] = [];
    const blocks = [headersOf({ streamtype: 'error' }), headersOf({ streamtype: 'stdout' }), headersOf({ streamtype: 'data', port: '8080', requestid: '1' })];
    for (const h of blocks) {
      const out: Buffer[] = [];
      const onData = (c: Buffer): number => out.push(c);
      deflate.on('data', onData);
      deflate.write(encodeHeaderBlock(h));
      await new Promise<void>((r) => deflate.flush(zlib.constants.Z_SYNC_FLUSH, () => r()));
      deflate.off('data', onData);
      compressed.push(Buffer.concat(out));
    }
    deflate.close();
    const inflater = new HeaderDecompressor(65536);
    for (let i = 0; i < blocks.length; i++) expect(decodeHeaderBlock(await inflater.decompress(compressed[i]!))).toEqual(blocks[i]);
    inflater.close();
  });

  it('compress to a stream any inflater with the dictionary reads, block by block', async () => {
    const c = new HeaderCompressor();
    const blocks = [headersOf({ a: '1' }), headersOf({ b: 'x'.repeat(70_000) }), new Map()];
    const wire = blocks.map((h) => c.compress(encodeHeaderBlock(h)));
    // Each block ends on zlib's sync-flush marker: Go's inflater needs it to release a stored block.
    for (const w of wire) expect(w.subarray(-5).toString('hex')).toBe('000000ffff');
    const inflater = new HeaderDecompressor(1 << 20);
    for (let i = 0; i < blocks.length; i++) expect(decodeHeaderBlock(await inflater.decompress(wire[i]!))).toEqual(blocks[i]);
    // And zlib's own one-shot inflate of the whole stream (sync flush: no final block).
    const all = zlib.inflateSync(Buffer.concat(wire), { dictionary: SPDY_DICTIONARY, finishFlush: zlib.constants.Z_SYNC_FLUSH });
    expect(all.equals(Buffer.concat(blocks.map(encodeHeaderBlock)))).toBe(true);
  });

  it('fail a block that inflates past the limit (a zlib bomb) and stay failed', async () => {
    const bomb = zlib.deflateSync(Buffer.alloc(10 << 20), { dictionary: SPDY_DICTIONARY });
    expect(bomb.length).toBeLessThan(20_000);
    const inflater = new HeaderDecompressor(65536);
    await expect(inflater.decompress(bomb)).rejects.toThrow(/over 65536 bytes/);
    await expect(inflater.decompress(Buffer.from([0]))).rejects.toThrow(SpdyProtocolError);
  });

  it('fail a stream that is not zlib', async () => {
    await expect(new HeaderDecompressor(65536).decompress(Buffer.from('not zlib at all'))).rejects.toThrow(SpdyProtocolError);
  });
});
