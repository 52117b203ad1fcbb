/**
 * Property-based fuzzing of the DNS message codec (src/dns/message.ts) and the server's answer
 * path: any datagram gets an answer (never an exception) that is itself a well-formed message
 * with the query's id; queries built from any names and types parse back to what was encoded.
 * Corpus: test/fuzz-corpus/dns/*.bin (datagrams), replayed through DnsServer.answer.
 */
import * as path from 'node:path';
import * as fc from 'fast-check';
import { corpusFiles, fuzz, fuzzAsync, fuzzTimeout } from '../../../tools/fuzz/support';
import { buildResponse, DnsFormatError, encodeName, parseQuery, readName, TYPE_A } from '../src/dns/message';
import { DnsServer } from '../src/dns/server';

const CORPUS = path.join(__dirname, 'fuzz-corpus', 'dns');

/** A server that owns every name starting with "c" (no forwarders: nothing leaves the process). */
const server = new DnsServer({
  address: '127.0.0.1',
  lookup: (name) => (name.startsWith('c') ? ['10.0.0.2', '10.0.0.3'] : undefined),
  allowClient: () => true,
  forwarders: [],
});

/** The answer to `msg` is a message we can read back, with the query's id. */
async function answersWell(msg: Buffer): Promise<void> {
  const out = await server.answer(msg);
  expect(out.length).toBeGreaterThanOrEqual(12);
  expect(out.readUInt16BE(2) & 0x8000).toBe(0x8000); // QR: a response
  if (msg.length >= 2) expect(out.readUInt16BE(0)).toBe(msg.readUInt16BE(0));
  const back = parseQuery(out); // the header and question section of our own answer parse
  expect(back.questions.length).toBeLessThanOrEqual(1);
}

const label = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-_ABCZ'.split('')), minLength: 1, maxLength: 63 });
const dnsName = fc.array(label, { minLength: 1, maxLength: 6 }).map((l) => l.join('.'));

function query(id: number, flags: number, questions: { name: string; type: number; cls: number }[]): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(flags, 2);
  h.writeUInt16BE(questions.length, 4);
  const parts: Buffer[] = [h];
  for (const q of questions) {
    const t = Buffer.alloc(4);
    t.writeUInt16BE(q.type, 0);
    t.writeUInt16BE(q.cls, 2);
    parts.push(encodeName(q.name), t);
  }
  return Buffer.concat(parts);
}

const questionArb = fc.record({
  name: dnsName,
  type: fc.oneof(fc.constant(TYPE_A), fc.integer({ min: 0, max: 65535 })),
  cls: fc.integer({ min: 0, max: 65535 }),
});
const queryArb = fc.record({
  id: fc.integer({ min: 0, max: 65535 }),
  flags: fc.integer({ min: 0, max: 65535 }),
  questions: fc.array(questionArb, { maxLength: 3 }),
});

describe('DNS fuzzing', () => {
  it(
    'any datagram is answered (never an exception) with a readable message keeping its id',
    async () => {
      const datagram = fc.oneof(
        fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a)),
        // a well-formed query with bytes overwritten: pointers, label lengths, counts
        fc.tuple(queryArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 })).map(([q, flips]) => {
          const b = query(q.id, q.flags, q.questions);
          for (const [at, v] of flips) b[at % b.length] = v;
          return b;
        }),
      );
      await fuzzAsync(datagram, answersWell, { numRuns: 1000, sampleTimeout: 2000, corpus: { dir: CORPUS, bytes: (b) => b } });
    },
    fuzzTimeout,
  );

  it(
    'a query parses back to the names (lower-cased), types and classes it was built from',
    () => {
      fuzz(
        queryArb,
        (q) => {
          const parsed = parseQuery(query(q.id, q.flags, q.questions));
          expect(parsed).toEqual({
            id: q.id,
            flags: q.flags,
            opcode: (q.flags >> 11) & 0xf,
            recursionDesired: (q.flags & 0x100) !== 0,
            questions: q.questions.map((x) => ({ name: x.name.toLowerCase(), type: x.type, class: x.cls })),
          });
        },
        { numRuns: 500, corpus: { dir: CORPUS, bytes: (q) => query(q.id, q.flags, q.questions) } },
      );
    },
    fuzzTimeout,
  );

  it(
    'a response echoes the question and carries the A records given',
    () => {
      const arb = fc.tuple(
        queryArb.filter((q) => q.questions.length > 0),
        fc.array(fc.ipV4(), { maxLength: 5 }),
        fc.integer({ min: 0, max: 0x7fffffff }),
      );
      fuzz(
        arb,
        ([q, ips, ttl]) => {
          const parsed = parseQuery(query(q.id, q.flags, q.questions));
          const r = buildResponse(parsed, 0, { a: ips, ttl });
          const back = parseQuery(r);
          expect(back.id).toBe(q.id);
          expect(back.questions).toEqual([parsed.questions[0]]);
          expect(r.readUInt16BE(6)).toBe(ips.length);
          // every record's name is a pointer to the question, its address the one given
          let off = 12 + encodeName(parsed.questions[0]!.name).length + 4;
          for (const ip of ips) {
            expect(readName(r, off).name).toBe(parsed.questions[0]!.name);
            expect([...r.subarray(off + 12, off + 16)].join('.')).toBe(ip);
            off += 16;
          }
          expect(off).toBe(r.length);
        },
        { numRuns: 300 },
      );
    },
    fuzzTimeout,
  );

  it('readName refuses pointer loops and names running past the message', () => {
    expect(() => readName(Buffer.from([0xc0, 0]), 0)).toThrow(DnsFormatError);
    expect(() => readName(Buffer.from([5, 97]), 0)).toThrow(DnsFormatError);
  });
});

describe('DNS fuzz corpus replay', () => {
  const files = corpusFiles(CORPUS);
  it('has entries', () => expect(files.length).toBeGreaterThan(0));
  for (const f of files) it(`${f.name}: answered`, () => answersWell(f.bytes));
});
