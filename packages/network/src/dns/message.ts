/** DNS messages (RFC 1035): just enough to read a query and write an answer with A records. */

export const TYPE_A = 1;
export const TYPE_AAAA = 28;
export const CLASS_IN = 1;
export const RCODE_NOERROR = 0;
export const RCODE_FORMERR = 1;
export const RCODE_SERVFAIL = 2;
export const RCODE_NXDOMAIN = 3;
export const RCODE_NOTIMP = 4;
export const RCODE_REFUSED = 5;

export interface Question {
  name: string;
  type: number;
  class: number;
}

export interface Query {
  id: number;
  flags: number;
  opcode: number;
  recursionDesired: boolean;
  questions: Question[];
}

export class DnsFormatError extends Error {
  override name = 'DnsFormatError';
}

/** A (possibly compressed) name at `off`; returns it lower-cased without the final dot, and the offset after it. */
export function readName(buf: Buffer, off: number): { name: string; next: number } {
  const labels: string[] = [];
  let next = -1;
  let jumps = 0;
  for (;;) {
    if (off >= buf.length) throw new DnsFormatError('name runs past the message');
    const len = buf[off]!;
    if ((len & 0xc0) === 0xc0) {
      if (off + 1 >= buf.length || ++jumps > 16) throw new DnsFormatError('bad compression pointer');
      if (next < 0) next = off + 2;
      off = ((len & 0x3f) << 8) | buf[off + 1]!;
      continue;
    }
    if (len & 0xc0) throw new DnsFormatError('bad label');
    off++;
    if (len === 0) break;
    if (off + len > buf.length) throw new DnsFormatError('label runs past the message');
    labels.push(buf.subarray(off, off + len).toString('latin1'));
    off += len;
  }
  return { name: labels.join('.').toLowerCase(), next: next < 0 ? off : next };
}

export function parseQuery(buf: Buffer): Query {
  if (buf.length < 12) throw new DnsFormatError('short message');
  const flags = buf.readUInt16BE(2);
  const qd = buf.readUInt16BE(4);
  const questions: Question[] = [];
  let off = 12;
  for (let i = 0; i < qd; i++) {
    const { name, next } = readName(buf, off);
    if (next + 4 > buf.length) throw new DnsFormatError('short question');
    questions.push({ name, type: buf.readUInt16BE(next), class: buf.readUInt16BE(next + 2) });
    off = next + 4;
  }
  return { id: buf.readUInt16BE(0), flags, opcode: (flags >> 11) & 0xf, recursionDesired: (flags & 0x0100) !== 0, questions };
}

export function encodeName(name: string): Buffer {
  const parts = name.replace(/\.$/, '').split('.').filter(Boolean);
  const out: Buffer[] = [];
  for (const p of parts) {
    const b = Buffer.from(p, 'latin1');
    if (b.length > 63) throw new DnsFormatError(`label too long: ${p}`);
    out.push(Buffer.from([b.length]), b);
  }
  out.push(Buffer.from([0]));
  return Buffer.concat(out);
}

export interface Answer {
  /** IPv4 addresses for the (single) question's name. */
  a: string[];
  ttl: number;
}

/**
 * A response to `q`: the question echoed, `answer.a` as A records (name compressed to the
 * question), QR/RA set, RD copied, authoritative for names we own.
 */
export function buildResponse(q: Query, rcode: number, answer?: Answer, authoritative = true): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(q.id, 0);
  const flags = 0x8000 | (q.opcode << 11) | (authoritative ? 0x0400 : 0) | (q.recursionDesired ? 0x0100 : 0) | 0x0080 | (rcode & 0xf);
  header.writeUInt16BE(flags, 2);
  const question = q.questions[0];
  header.writeUInt16BE(question ? 1 : 0, 4);
  const parts: Buffer[] = [header];
  if (question) {
    const qt = Buffer.alloc(4);
    qt.writeUInt16BE(question.type, 0);
    qt.writeUInt16BE(question.class, 2);
    parts.push(encodeName(question.name), qt);
  }
  const records = question && answer ? answer.a : [];
  header.writeUInt16BE(records.length, 6);
  for (const ip of records) {
    const rr = Buffer.alloc(16);
    rr.writeUInt16BE(0xc00c, 0); // pointer to the question's name at offset 12
    rr.writeUInt16BE(TYPE_A, 2);
    rr.writeUInt16BE(CLASS_IN, 4);
    rr.writeUInt32BE(answer!.ttl, 6);
    rr.writeUInt16BE(4, 10);
    ip.split('.').forEach((o, i) => rr.writeUInt8(Number(o), 12 + i));
    parts.push(rr);
  }
  return Buffer.concat(parts);
}

/** A FORMERR answer for a message we could not parse (keeping its id when there is one). */
export function formatErrorResponse(buf: Buffer): Buffer {
  const h = Buffer.alloc(12);
  if (buf.length >= 2) buf.copy(h, 0, 0, 2);
  h.writeUInt16BE(0x8000 | RCODE_FORMERR, 2);
  return h;
}

/** The response code of a message (low 4 bits of the flags); -1 when it has no header. */
export function rcodeOf(buf: Buffer): number {
  return buf.length >= 4 ? buf.readUInt16BE(2) & 0xf : -1;
}
