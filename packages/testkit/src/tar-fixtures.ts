/**
 * Hostile tar building blocks for the reader tests and the fuzz properties: raw 512-byte headers
 * whose numeric fields can be anything (octal text, GNU base-256 bytes, garbage), PAX data with
 * arbitrary records, the archives the "daemons under hostile input" report was about, and gzip
 * bombs. Written from the ustar layout, independently of @gantry/archive's writer.
 */
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';

export interface RawHeader {
  name: string;
  /** typeflag character */
  type?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  /** A number (octal), or the 12 raw bytes of the field (base-256, garbage). */
  size?: number | Buffer;
  mtime?: number;
  linkname?: string;
  /** 'ustar' (POSIX, default), 'gnu' ("ustar  \0") or 'v7' (no magic). */
  magic?: 'ustar' | 'gnu' | 'v7';
  /** Make the checksum wrong. */
  badChecksum?: boolean;
}

const octal = (n: number, width: number) => n.toString(8).padStart(width - 1, '0') + '\0';

export function rawHeader(h: RawHeader): Buffer {
  const b = Buffer.alloc(512);
  b.write(h.name, 0, 100, 'utf8');
  b.write(octal(h.mode ?? 0o644, 8), 100, 'latin1');
  b.write(octal(h.uid ?? 0, 8), 108, 'latin1');
  b.write(octal(h.gid ?? 0, 8), 116, 'latin1');
  const size = h.size ?? 0;
  if (Buffer.isBuffer(size)) size.copy(b, 124, 0, 12);
  else b.write(octal(size, 12), 124, 'latin1');
  b.write(octal(h.mtime ?? 1_600_000_000, 12), 136, 'latin1');
  b.write(h.type ?? '0', 156, 'latin1');
  b.write(h.linkname ?? '', 157, 100, 'utf8');
  const magic = h.magic ?? 'ustar';
  if (magic === 'ustar') b.write('ustar\x0000', 257, 'latin1');
  else if (magic === 'gnu') b.write('ustar  \0', 257, 'latin1');
  b.fill(' ', 148, 156);
  let sum = 0;
  for (const c of b) sum += c;
  if (h.badChecksum) sum += 1;
  b.write(octal(sum, 7) + ' ', 148, 'latin1');
  return b;
}

/** GNU base-256 encoding of `v` (a bigint, negative in two's complement) in a 12-byte field. */
export function base256(v: bigint): Buffer {
  const b = Buffer.alloc(12);
  let x = v < 0n ? (1n << 96n) + v : v;
  for (let i = 11; i >= 0; i--) {
    b[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  b[0] = b[0]! | 0x80;
  return b;
}

const pad = (n: number): Buffer => Buffer.alloc((512 - (n % 512)) % 512);

/** One PAX record with its length prefix computed. */
export function paxRecord(key: string, value: string | Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), Buffer.isBuffer(value) ? value : Buffer.from(value), Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

/** A PAX 'x' (or 'g') header with `data` as its body. */
export function paxHeader(data: Buffer, type: 'x' | 'g' = 'x'): Buffer {
  return Buffer.concat([rawHeader({ name: 'PaxHeaders/x', type, size: data.length }), data, pad(data.length)]);
}

/** A regular file member. */
export function fileMember(name: string, data: Buffer | string, extra: Partial<RawHeader> = {}): Buffer {
  const d = Buffer.isBuffer(data) ? data : Buffer.from(data);
  return Buffer.concat([rawHeader({ name, size: d.length, ...extra }), d, pad(d.length)]);
}

export const END = Buffer.alloc(1024);

/** A stream of `buf` in pieces of `piece` bytes. */
export function chunked(buf: Buffer, piece = 777): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += piece) parts.push(buf.subarray(i, i + piece));
  return Readable.from(parts);
}

/** The archives of the report: each must be refused by the reader, quickly. */
export function hostileArchives(): { name: string; tar: Buffer; error: RegExp }[] {
  const withPaxSize = (v: string) => Buffer.concat([paxHeader(paxRecord('size', v)), fileMember('f', 'hello'), END]);
  return [
    { name: 'PAX size=1.5', tar: withPaxSize('1.5'), error: /invalid PAX size "1.5"/ },
    { name: 'PAX size=-1', tar: withPaxSize('-1'), error: /invalid PAX size "-1"/ },
    { name: 'PAX size=1e3', tar: withPaxSize('1e3'), error: /invalid PAX size/ },
    { name: 'PAX size=0x10', tar: withPaxSize('0x10'), error: /invalid PAX size/ },
    { name: 'PAX size empty', tar: withPaxSize(''), error: /invalid PAX size/ },
    { name: 'PAX size with spaces', tar: withPaxSize(' 5'), error: /invalid PAX size/ },
    { name: 'PAX size=Infinity', tar: withPaxSize('Infinity'), error: /invalid PAX size/ },
    { name: 'PAX size of 30 digits', tar: withPaxSize('9'.repeat(30)), error: /invalid PAX size/ },
    { name: 'PAX size 2^53', tar: withPaxSize(String(2 ** 53)), error: /invalid PAX size/ },
    { name: 'PAX size larger than the archive', tar: withPaxSize('1000000000'), error: /unexpected end of archive/ },
    { name: 'PAX uid=1.5', tar: Buffer.concat([paxHeader(paxRecord('uid', '1.5')), fileMember('f', 'x'), END]), error: /invalid PAX uid/ },
    { name: 'PAX mtime=NaN', tar: Buffer.concat([paxHeader(paxRecord('mtime', 'NaN')), fileMember('f', 'x'), END]), error: /invalid PAX mtime/ },
    { name: 'base-256 negative size', tar: Buffer.concat([rawHeader({ name: 'f', size: base256(-1n) }), END]), error: /negative base-256 size/ },
    { name: 'base-256 huge size', tar: Buffer.concat([rawHeader({ name: 'f', size: base256(1n << 80n) }), END]), error: /base-256 size out of range/ },
    { name: 'octal garbage size', tar: Buffer.concat([rawHeader({ name: 'f', size: Buffer.from('12x4\0') }), END]), error: /invalid octal size/ },
    {
      name: 'PAX header over 1 MiB',
      tar: Buffer.concat([rawHeader({ name: 'PaxHeaders/x', type: 'x', size: (1 << 20) + 1 }), Buffer.alloc((1 << 20) + 512), END]),
      error: /x header of 1048577 bytes is over the 1048576-byte limit/,
    },
    {
      name: 'GNU long name over 1 MiB',
      tar: Buffer.concat([rawHeader({ name: '././@LongLink', type: 'L', size: 2 << 20, magic: 'gnu' }), END]),
      error: /L header of 2097152 bytes is over/,
    },
    {
      name: 'PAX record with a bad length',
      tar: Buffer.concat([paxHeader(Buffer.from('99 path=x\n')), fileMember('f', 'x'), END]),
      error: /malformed PAX record/,
    },
    { name: 'PAX record length 1.5', tar: Buffer.concat([paxHeader(Buffer.from('1.5 a=b\n')), fileMember('f', 'x'), END]), error: /malformed PAX record/ },
    { name: 'PAX record length 0', tar: Buffer.concat([paxHeader(Buffer.from('0 a=b\n')), fileMember('f', 'x'), END]), error: /malformed PAX record/ },
    { name: 'truncated in the data', tar: fileMember('f', 'x'.repeat(2000)).subarray(0, 1200), error: /unexpected end of archive in file data/ },
    { name: 'truncated in a header', tar: fileMember('f', 'x').subarray(0, 300), error: /truncated header/ },
    { name: 'no end-of-archive marker', tar: fileMember('f', 'x'), error: /unexpected end of archive/ },
  ];
}

/** One gzip member of 1 MiB of zeros (about 1 KB): concatenated members are one gzip stream. */
export const GZIP_ZERO_MIB = gzipSync(Buffer.alloc(1 << 20));

/** A gzip stream of `mib` MiB of zeros after `prefix`, generated as it is read; counts what was pulled. */
export function zeroBomb(mib: number, prefix: Buffer = Buffer.alloc(0)): { stream: Readable; pulled: () => number } {
  let pulled = 0;
  async function* gen(): AsyncGenerator<Buffer> {
    if (prefix.length > 0) yield gzipSync(prefix);
    for (let i = 0; i < mib; i++) {
      pulled++;
      yield GZIP_ZERO_MIB;
    }
  }
  return { stream: Readable.from(gen()), pulled: () => pulled };
}
