/**
 * A streaming tar reader and a header writer: ustar, PAX extended headers ('x'; global 'g'
 * headers are read and ignored, as Go's archive/tar users do) and GNU long names ('L'/'K').
 *
 * Why our own parser rather than the `tar-stream` package: extraction needs a few things a generic
 * parser hides or decides for us — the raw bytes of PAX values (xattr values are binary, not
 * UTF-8), a strict checksum and numeric-field check that turns a malformed header into a typed
 * error with the entry's name instead of a silently skipped member, refusal of sparse and
 * multi-volume members we cannot apply faithfully, and a pull-based body reader that lets the
 * extractor write each chunk synchronously with no extra buffering or stream back-pressure glue.
 * The format is small (one 512-byte header layout plus two record syntaxes); the code is ~250 lines.
 */

import { ExpansionError, type OutputBound } from './decompress';

const BLOCK = 512;

export type EntryType = 'file' | 'link' | 'symlink' | 'chr' | 'blk' | 'dir' | 'fifo';

export interface TarHeader {
  name: string;
  type: EntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch, possibly fractional (PAX). */
  mtime: number;
  atime?: number;
  linkname: string;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
  /** From PAX `SCHILY.xattr.<name>` records, raw bytes. */
  xattrs: Map<string, Buffer>;
}

/** A malformed or unsupported archive; `entry` names the member when known. */
export class TarFormatError extends Error {
  constructor(
    readonly detail: string,
    readonly entry?: string,
  ) {
    super(entry !== undefined ? `${entry}: ${detail}` : detail);
    this.name = 'TarFormatError';
  }
}

/** Most bytes of a PAX ('x'/'g') header or GNU long name ('L'/'K') held in memory: Go's archive/tar limit. */
const MAX_META = 1 << 20;
/**
 * Most bytes read past the end-of-archive marker (they count in a layer's diffID, so they are read):
 * writers pad to their record size (GNU tar's default is 10 KiB); a stream that goes on for gigabytes
 * of zeros after the marker is a decompression bomb, not padding.
 */
export const MAX_TRAILING = 16 << 20;
/** How long a run of buffered work may keep the event loop before it yields (ms). */
const SLICE_MS = 10;

const isCount = (n: number, min: number): boolean => Number.isSafeInteger(n) && n >= min;

/** Let timers and I/O of other requests run: awaiting resolved promises alone never does. */
function nextTick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Pull-based bytes over an async iterable of chunks; every byte pulled is passed to `onData`. */
export class ByteSource {
  private readonly it: AsyncIterator<Buffer | Uint8Array | string>;
  private buf: Buffer = Buffer.alloc(0);
  private done = false;
  private sliceStart = performance.now();
  /** Bytes handed out so far. */
  position = 0;
  /** The most bytes the source may give (from a bounded decompressed() stream): readTar refuses members past it. */
  readonly maxOutput: OutputBound | undefined;

  constructor(
    src: AsyncIterable<Buffer | Uint8Array | string>,
    private readonly onData: (chunk: Buffer) => void = () => {},
  ) {
    this.it = src[Symbol.asyncIterator]();
    const max = (src as { maxOutput?: OutputBound }).maxOutput;
    this.maxOutput = typeof max?.bytes === 'number' ? max : undefined;
  }

  /**
   * Yield to the event loop once a run of work has taken SLICE_MS: a source that answers from a
   * buffer (or yields empty chunks) resolves every read as a microtask, which would otherwise keep
   * every other request (and timer) of the daemon waiting until the whole archive is read.
   */
  private async breathe(): Promise<void> {
    if (performance.now() - this.sliceStart < SLICE_MS) return;
    await nextTick();
    this.sliceStart = performance.now();
  }

  private async fill(): Promise<boolean> {
    await this.breathe();
    while (this.buf.length === 0 && !this.done) {
      const r = await this.it.next();
      if (r.done) {
        this.done = true;
        break;
      }
      const chunk =
        typeof r.value === 'string'
          ? Buffer.from(r.value)
          : Buffer.isBuffer(r.value)
            ? r.value
            : Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
      if (chunk.length === 0) {
        await this.breathe();
        continue;
      }
      this.onData(chunk);
      this.buf = chunk;
    }
    return this.buf.length > 0;
  }

  /** Up to `max` bytes (at least one), or undefined at end of input. No copy. */
  async some(max: number): Promise<Buffer | undefined> {
    // a fractional or zero count would return empty buffers forever: every read must progress
    if (!isCount(max, 1)) throw new RangeError(`ByteSource.some: invalid byte count ${max}`);
    if (!(await this.fill())) return undefined;
    const n = Math.min(max, this.buf.length);
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    this.position += n;
    return out;
  }

  /** Exactly `n` bytes; fewer only when the input ends (the caller checks the length). */
  async exact(n: number): Promise<Buffer> {
    if (!isCount(n, 0)) throw new RangeError(`ByteSource.exact: invalid byte count ${n}`);
    if (this.buf.length >= n) {
      await this.breathe();
      const out = this.buf.subarray(0, n);
      this.buf = this.buf.subarray(n);
      this.position += n;
      return out;
    }
    const parts: Buffer[] = [];
    let got = 0;
    while (got < n) {
      const part = await this.some(n - got);
      if (!part) break;
      parts.push(part);
      got += part.length;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, got);
  }

  /** Skip `n` bytes; how many there were (fewer only at end of input). */
  async skip(n: number): Promise<number> {
    if (!isCount(n, 0)) throw new RangeError(`ByteSource.skip: invalid byte count ${n}`);
    let left = n;
    while (left > 0) {
      const part = await this.some(Math.min(left, 1 << 20));
      if (!part) break;
      left -= part.length;
    }
    return n - left;
  }

  /** Read (and so hash) everything left, failing past `limit` bytes. */
  async drain(limit = MAX_TRAILING): Promise<void> {
    let n = 0;
    for (let part = await this.some(1 << 20); part; part = await this.some(1 << 20)) {
      n += part.length;
      if (n > limit) throw new TarFormatError(`more than ${limit} bytes after the end-of-archive marker`);
    }
  }
}

function cstring(b: Buffer, off: number, len: number): string {
  const field = b.subarray(off, off + len);
  const nul = field.indexOf(0);
  return (nul === -1 ? field : field.subarray(0, nul)).toString('utf8');
}

/**
 * An octal field (space/NUL padded on either side, as Go's archive/tar reads it) or GNU base-256
 * (high bit of the first byte set; the next bit is the sign). Negative values are refused: no
 * field of ours can be negative, and a negative size is how a reader is made to loop.
 */
function numeric(b: Buffer, off: number, len: number, what: string, entry: string): number {
  const field = b.subarray(off, off + len);
  if (field[0]! & 0x80) {
    if (field[0]! & 0x40) throw new TarFormatError(`negative base-256 ${what}`, entry);
    let v = field[0]! & 0x3f;
    for (let i = 1; i < field.length; i++) {
      v = v * 256 + field[i]!;
      if (v > Number.MAX_SAFE_INTEGER) throw new TarFormatError(`base-256 ${what} out of range`, entry);
    }
    return v;
  }
  let s = field.toString('latin1').replace(/^[ \0]+|[ \0]+$/g, '');
  const nul = s.indexOf('\0');
  if (nul !== -1) s = s.slice(0, nul);
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new TarFormatError(`invalid octal ${what} ${JSON.stringify(s)}`, entry);
  return parseInt(s, 8); // at most 12 digits: always a safe integer
}

function checksumOk(b: Buffer): boolean {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const c = i >= 148 && i < 156 ? 0x20 : b[i]!;
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  const s = b.toString('latin1', 148, 156).replace(/\0.*$/s, '').trim();
  if (!/^[0-7]+$/.test(s)) return false;
  const stored = parseInt(s, 8);
  return stored === unsigned || stored === signed;
}

/** Keys whose values are names: a NUL in them is refused (Go's validPAXRecord). */
const NAME_KEYS = new Set(['path', 'linkpath', 'uname', 'gname']);

/**
 * PAX records: "<len> <key>=<value>\n", values kept as bytes. Within one header a later record for
 * a key replaces an earlier one (Go's archive/tar keeps a map the same way).
 */
function parsePax(data: Buffer, entry: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let off = 0;
  while (off < data.length) {
    if (data[off] === 0) break; // NUL padding some writers leave
    const sp = data.indexOf(0x20, off);
    const digits = sp === -1 ? '' : data.toString('latin1', off, sp);
    if (!/^[0-9]{1,7}$/.test(digits)) throw new TarFormatError('malformed PAX record length', entry);
    const len = Number(digits);
    // "<len> k=\n" is at least 5 bytes; the record must end inside the header, on a newline
    if (len < 5 || len <= sp - off + 1 || off + len > data.length || data[off + len - 1] !== 0x0a) {
      throw new TarFormatError('malformed PAX record length', entry);
    }
    const rec = data.subarray(sp + 1, off + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq <= 0) throw new TarFormatError('malformed PAX record (no key or no "=")', entry);
    const keyBytes = rec.subarray(0, eq);
    const value = rec.subarray(eq + 1);
    const key = keyBytes.toString('utf8');
    if (keyBytes.includes(0) || (NAME_KEYS.has(key) && value.includes(0)))
      throw new TarFormatError(`PAX record ${JSON.stringify(key)} contains a NUL byte`, entry);
    out.set(key, Buffer.from(value));
    off += len;
  }
  return out;
}

const TYPES: Record<string, EntryType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'link',
  '2': 'symlink',
  '3': 'chr',
  '4': 'blk',
  '5': 'dir',
  '6': 'fifo',
};

/** A PAX decimal count (size, uid, gid): digits only, a safe integer; no sign, no fraction, no exponent. */
function paxCount(v: string, key: string, entry: string, max = Number.MAX_SAFE_INTEGER): number {
  const n = /^[0-9]{1,16}$/.test(v) ? Number(v) : NaN;
  if (!(n <= max)) throw new TarFormatError(`invalid PAX ${key} ${JSON.stringify(v.slice(0, 64))}`, entry);
  return n;
}

/** A PAX time: "[-]seconds[.fraction]" in decimal. */
function paxTime(v: string, key: string, entry: string): number {
  const n = /^-?[0-9]{1,16}(\.[0-9]*)?$/.test(v) ? Number(v) : NaN;
  if (!(Math.abs(n) <= Number.MAX_SAFE_INTEGER)) throw new TarFormatError(`invalid PAX ${key} ${JSON.stringify(v.slice(0, 64))}`, entry);
  return n;
}

const MAX_ID = 0xffffffff;

/**
 * Iterate the members of a tar stream. For each yielded header the caller must consume the body
 * through `body` (or not at all: the rest is skipped) before asking for the next member.
 *
 * What is refused (TarFormatError), as Go's archive/tar (what dockerd and containerd read layers
 * with) refuses it: a bad checksum or numeric field, a negative or out-of-range size (octal, GNU
 * base-256 or PAX), a PAX size, uid, gid or time that is not a decimal number, a malformed PAX
 * record, a PAX header or GNU long name over 1 MiB, and input that ends inside a header or a
 * member's data. A PAX 'x' header applies to the next member only, and a second 'x' header
 * before it replaces the first (records are never merged across headers). Hard links, symlinks,
 * devices, directories and FIFOs carry no data whatever their size field says (Go's
 * header-only types). On a bounded stream (`ByteSource.maxOutput`, from decompressed()), a member
 * whose declared size goes past the bound is an ExpansionError at its header.
 */
export async function* readTar(src: ByteSource): AsyncGenerator<{ header: TarHeader; body: BodyReader }> {
  let pax = new Map<string, Buffer>();
  let longName: string | undefined;
  let longLink: string | undefined;
  let zeroBlocks = 0;
  for (;;) {
    const block = await src.exact(BLOCK);
    if (block.length === 0 && zeroBlocks === 0) throw new TarFormatError('unexpected end of archive (no end-of-archive marker)');
    if (block.length === 0) return; // one zero block then EOF: accepted, as GNU tar does
    if (block.length < BLOCK) throw new TarFormatError('truncated header');
    if (block.every((c) => c === 0)) {
      if (++zeroBlocks === 2) return;
      continue;
    }
    if (zeroBlocks > 0) throw new TarFormatError('data after an end-of-archive block');
    const rawName = cstring(block, 0, 100);
    if (!checksumOk(block)) throw new TarFormatError('header checksum mismatch', rawName);
    const flag = String.fromCharCode(block[156]!);
    const size = numeric(block, 124, 12, 'size', rawName);

    if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
      if (size > MAX_META) throw new TarFormatError(`${flag} header of ${size} bytes is over the ${MAX_META}-byte limit`, rawName);
      const padded = Math.ceil(size / BLOCK) * BLOCK;
      const data = await src.exact(padded);
      if (data.length < padded) throw new TarFormatError('truncated extended header', rawName);
      const body = data.subarray(0, size);
      if (flag === 'x') pax = parsePax(body, rawName);
      else if (flag === 'L') longName = cstring(body, 0, body.length);
      else if (flag === 'K') longLink = cstring(body, 0, body.length);
      else {
        // global: validated, then ignored, as dockerd does; like Go, it ends what came before it
        parsePax(body, rawName);
        pax = new Map();
        longName = undefined;
        longLink = undefined;
      }
      continue;
    }

    const magic = block.toString('latin1', 257, 263);
    const ustar = magic === 'ustar\0';
    const gnu = magic === 'ustar ';
    let name = rawName;
    if (ustar) {
      const prefix = cstring(block, 345, 155);
      if (prefix) name = `${prefix}/${name}`;
    }
    const str = (k: string) => pax.get(k)?.toString('utf8');
    name = str('path') ?? longName ?? name;
    // pre-POSIX archives mark a directory as a regular file whose name ends in "/"
    const type = (flag === '0' || flag === '\0') && name.endsWith('/') ? 'dir' : TYPES[flag];
    if (flag === 'S' || str('GNU.sparse.major') !== undefined || str('GNU.sparse.size') !== undefined)
      throw new TarFormatError('sparse files are not supported', name);
    if (type === undefined) throw new TarFormatError(`unsupported entry type ${JSON.stringify(flag)}`, name);

    const paxSize = str('size');
    const dataSize = paxSize === undefined ? size : paxCount(paxSize, 'size', name);
    const paxId = (k: string, fallback: number): number => {
      const v = str(k);
      return v === undefined ? fallback : paxCount(v, k, name, MAX_ID);
    };
    const xattrs = new Map<string, Buffer>();
    for (const [k, v] of pax) if (k.startsWith('SCHILY.xattr.')) xattrs.set(k.slice('SCHILY.xattr.'.length), v);
    const mtime = str('mtime');
    const header: TarHeader = {
      name,
      type,
      mode: numeric(block, 100, 8, 'mode', name) & 0o7777,
      uid: paxId('uid', numeric(block, 108, 8, 'uid', name)),
      gid: paxId('gid', numeric(block, 116, 8, 'gid', name)),
      size: type === 'file' ? dataSize : 0,
      mtime: mtime === undefined ? numeric(block, 136, 12, 'mtime', name) : paxTime(mtime, 'mtime', name),
      linkname: str('linkpath') ?? longLink ?? cstring(block, 157, 100),
      uname: str('uname') ?? cstring(block, 265, 32),
      gname: str('gname') ?? cstring(block, 297, 32),
      devmajor: ustar || gnu ? numeric(block, 329, 8, 'devmajor', name) : 0,
      devminor: ustar || gnu ? numeric(block, 337, 8, 'devminor', name) : 0,
      xattrs,
    };
    const paxAtime = str('atime');
    const atime = paxAtime !== undefined ? paxTime(paxAtime, 'atime', name) : gnu ? numeric(block, 345, 12, 'atime', name) || undefined : undefined;
    if (atime !== undefined) header.atime = atime;
    pax = new Map();
    longName = undefined;
    longLink = undefined;

    // a member declaring more than the stream may expand to: refused before inflating any of it
    const bound = src.maxOutput;
    if (bound !== undefined && src.position + header.size + padding(header.size) > bound.bytes) {
      const what = bound.kind === 'ratio' ? ': refused as a decompression bomb' : '';
      throw new ExpansionError(
        `${JSON.stringify(name)}: a ${header.size}-byte member goes past the ${bound.bytes} bytes this stream may expand to (${bound.why})${what}`,
        bound.kind,
      );
    }
    // header-only types have no data, whatever the size field says (Go's archive/tar)
    const body = new BodyReader(src, header.size, name);
    yield { header, body };
    await body.finish(header.size + padding(header.size) - body.consumed);
  }
}

/** The data of one member. */
export class BodyReader {
  consumed = 0;
  constructor(
    private readonly src: ByteSource,
    readonly size: number,
    private readonly entry: string,
  ) {}

  /** The next chunk of data (at least one byte), undefined once `size` bytes were returned. */
  async chunk(max = 1 << 20): Promise<Buffer | undefined> {
    const left = this.size - this.consumed;
    if (left <= 0) return undefined;
    const b = await this.src.some(Math.min(left, max));
    if (!b) throw new TarFormatError('unexpected end of archive in file data', this.entry);
    this.consumed += b.length;
    return b;
  }

  /** Skip the unread rest of the member and its padding. */
  async finish(rest: number): Promise<void> {
    if (rest > 0 && (await this.src.skip(rest)) < rest) throw new TarFormatError('unexpected end of archive in file data', this.entry);
    this.consumed += rest;
  }
}

/**
 * Every member of a small archive with its data, in memory (manifests, test archives). More
 * than `maxBytes` of member data in all is a TarFormatError: a stream of unknown size is never
 * buffered without bound.
 */
export async function readTarMembers(
  src: AsyncIterable<Buffer | Uint8Array | string> | Iterable<Buffer>,
  maxBytes = 64 << 20,
): Promise<{ header: TarHeader; data: Buffer }[]> {
  const it: AsyncIterable<Buffer | Uint8Array | string> =
    Symbol.asyncIterator in src
      ? src
      : (async function* () {
          yield* src;
        })();
  const out: { header: TarHeader; data: Buffer }[] = [];
  let total = 0;
  for await (const { header, body } of readTar(new ByteSource(it))) {
    const parts: Buffer[] = [];
    for (let c = await body.chunk(); c; c = await body.chunk()) {
      total += c.length;
      if (total > maxBytes) throw new TarFormatError(`member data over the ${maxBytes}-byte limit of an in-memory read`, header.name);
      parts.push(c);
    }
    out.push({ header, data: Buffer.concat(parts) });
  }
  return out;
}

// ---- writing ----

export interface TarWriteEntry {
  name: string;
  type: EntryType;
  mode: number;
  uid: number;
  gid: number;
  size?: number;
  mtime: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  uname?: string;
  gname?: string;
  xattrs?: Map<string, Buffer>;
}

const FLAG_OF: Record<EntryType, string> = { file: '0', link: '1', symlink: '2', chr: '3', blk: '4', dir: '5', fifo: '6' };

function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

function writeOctal(b: Buffer, off: number, len: number, v: number): void {
  b.write(v.toString(8).padStart(len - 1, '0') + '\0', off, len, 'latin1');
}

function ustarBlock(e: {
  name: string;
  prefix: string;
  flag: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkname: string;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
}): Buffer {
  const b = Buffer.alloc(BLOCK);
  b.write(e.name, 0, 100, 'utf8');
  writeOctal(b, 100, 8, e.mode & 0o7777);
  writeOctal(b, 108, 8, e.uid);
  writeOctal(b, 116, 8, e.gid);
  writeOctal(b, 124, 12, e.size);
  writeOctal(b, 136, 12, e.mtime);
  b.write(e.flag, 156, 1, 'latin1');
  b.write(e.linkname, 157, 100, 'utf8');
  b.write('ustar\x0000', 257, 8, 'latin1');
  b.write(e.uname, 265, 32, 'utf8');
  b.write(e.gname, 297, 32, 'utf8');
  writeOctal(b, 329, 8, e.devmajor);
  writeOctal(b, 337, 8, e.devminor);
  b.write(e.prefix, 345, 155, 'utf8');
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += b[i]!;
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
  return b;
}

/** Split a long name into ustar's prefix/name at a "/", if it fits. */
function splitUstar(name: string): { prefix: string; name: string } | undefined {
  const bytes = Buffer.byteLength(name);
  if (bytes <= 100) return { prefix: '', name };
  if (bytes > 256) return undefined;
  for (let i = name.length - 1; i > 0; i--) {
    if (name[i] !== '/') continue;
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(rest) <= 100 && rest.length > 0) return { prefix, name: rest };
  }
  return undefined;
}

const OCTAL_MAX_7 = 0o7777777;
const OCTAL_MAX_11 = 0o77777777777;

/** The header block(s) of one member: ustar, preceded by a PAX 'x' header when a field does not fit. */
export function tarHeader(e: TarWriteEntry): Buffer {
  const size = e.type === 'file' ? (e.size ?? 0) : 0;
  const records: Buffer[] = [];
  let names = splitUstar(e.name);
  if (!names || !/^[\x20-\x7e]*$/.test(e.name)) {
    records.push(paxRecord('path', Buffer.from(e.name)));
    names = {
      prefix: '',
      name: Buffer.from(e.name)
        .subarray(0, 100)
        .toString('latin1')
        .replace(/[^\x20-\x7e]/g, '_'),
    };
  }
  let linkname = e.linkname ?? '';
  if (Buffer.byteLength(linkname) > 100 || !/^[\x20-\x7e]*$/.test(linkname)) {
    records.push(paxRecord('linkpath', Buffer.from(linkname)));
    linkname = '';
  }
  const fit = (key: string, v: number, max: number): number => {
    if (v <= max && Number.isInteger(v) && v >= 0) return v;
    records.push(paxRecord(key, Buffer.from(String(v))));
    return 0;
  };
  const uid = fit('uid', e.uid, OCTAL_MAX_7);
  const gid = fit('gid', e.gid, OCTAL_MAX_7);
  const sz = fit('size', size, OCTAL_MAX_11);
  const mtime = fit('mtime', Math.max(0, Math.floor(e.mtime)), OCTAL_MAX_11);
  // owner names: the 32-byte fields hold short ASCII ones, a PAX record the rest (as Go writes them)
  const ownerName = (key: 'uname' | 'gname', v: string | undefined): string => {
    const name = v ?? '';
    if (Buffer.byteLength(name) <= 32 && /^[\x20-\x7e]*$/.test(name)) return name;
    records.push(paxRecord(key, Buffer.from(name)));
    return '';
  };
  const uname = ownerName('uname', e.uname);
  const gname = ownerName('gname', e.gname);
  for (const [k, v] of e.xattrs ?? []) {
    // a key with "=" or NUL cannot be written as a PAX record (Go's writer refuses it too)
    if (k === '' || k.includes('=') || k.includes('\0')) throw new TarFormatError(`xattr name ${JSON.stringify(k)} cannot be written in a PAX record`, e.name);
    records.push(paxRecord(`SCHILY.xattr.${k}`, v));
  }
  const block = ustarBlock({
    name: names.name,
    prefix: names.prefix,
    flag: FLAG_OF[e.type],
    mode: e.mode,
    uid,
    gid,
    size: sz,
    mtime,
    linkname,
    uname,
    gname,
    devmajor: e.devmajor ?? 0,
    devminor: e.devminor ?? 0,
  });
  if (records.length === 0) return block;
  const data = Buffer.concat(records);
  const paxName = `PaxHeaders/${names.name}`.slice(0, 100);
  const paxHead = ustarBlock({
    name: paxName,
    prefix: '',
    flag: 'x',
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: data.length,
    mtime,
    linkname: '',
    uname: '',
    gname: '',
    devmajor: 0,
    devminor: 0,
  });
  return Buffer.concat([paxHead, data, Buffer.alloc(padding(data.length)), block]);
}

export function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/** Two zero blocks. */
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);
