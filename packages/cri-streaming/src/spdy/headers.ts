/**
 * SPDY/3 header blocks (draft 3.1, section 2.6.10): a count, then length-prefixed name/value
 * pairs; names lowercase, several values of one name joined by NUL. On the wire the blocks of one
 * direction of a connection form a single zlib stream with SPDY's dictionary, each block ending on
 * a sync flush.
 */
import * as zlib from 'node:zlib';
import { SPDY_DICTIONARY, SPDY_DICTIONARY_ID } from './dictionary';
import { SpdyProtocolError } from './errors';

/** Header names (lowercase) to their values. */
export type SpdyHeaders = Map<string, string[]>;

export function headersOf(record: Record<string, string | string[]>): SpdyHeaders {
  const h: SpdyHeaders = new Map();
  for (const [k, v] of Object.entries(record)) h.set(k.toLowerCase(), Array.isArray(v) ? v : [v]);
  return h;
}

export function encodeHeaderBlock(h: SpdyHeaders): Buffer {
  const parts: Buffer[] = [];
  const count = Buffer.alloc(4);
  count.writeUInt32BE(h.size);
  parts.push(count);
  for (const [name, values] of h) {
    for (const s of [name.toLowerCase(), values.join('\0')]) {
      const b = Buffer.from(s, 'utf8');
      const len = Buffer.alloc(4);
      len.writeUInt32BE(b.length);
      parts.push(len, b);
    }
  }
  return Buffer.concat(parts);
}

export interface HeaderBlockLimits {
  maxPairs: number;
}

/** Decodes one decompressed block; it must be consumed exactly. Names are lowercased (as Go does); a repeated name is an error. */
export function decodeHeaderBlock(b: Buffer, limits: HeaderBlockLimits = { maxPairs: 256 }): SpdyHeaders {
  const fail = (what: string): never => {
    throw new SpdyProtocolError(`header block: ${what}`);
  };
  if (b.length < 4) fail(`${b.length} bytes`);
  const n = b.readUInt32BE(0);
  if (n > limits.maxPairs) fail(`${n} pairs (limit ${limits.maxPairs})`);
  let off = 4;
  const str = (): string => {
    if (off + 4 > b.length) fail('truncated length');
    const len = b.readUInt32BE(off);
    off += 4;
    if (len > b.length - off) fail(`length ${len} past the end`);
    const s = b.toString('utf8', off, off + len);
    off += len;
    return s;
  };
  const h: SpdyHeaders = new Map();
  for (let i = 0; i < n; i++) {
    const name = str().toLowerCase();
    if (name.length === 0) fail('empty name');
    if (h.has(name)) fail(`duplicate header ${JSON.stringify(name)}`);
    h.set(name, str().split('\0'));
  }
  if (off !== b.length) fail(`${b.length - off} bytes after the last pair`);
  return h;
}

/**
 * The sending side's zlib stream. It emits stored (uncompressed) deflate blocks: a valid
 * continuation of a dictionary stream for any inflater, synchronous, and the blocks we send (a
 * reply's few headers) gain nothing from compression.
 */
export class HeaderCompressor {
  private started = false;

  compress(block: Buffer): Buffer {
    const parts: Buffer[] = [];
    if (!this.started) {
      // CMF 0x78 (deflate, 32 KiB window), FLG 0x20 (FDICT; 0x7820 % 31 === 0), then the DICTID.
      const head = Buffer.alloc(6);
      head.writeUInt16BE(0x7820, 0);
      head.writeUInt32BE(SPDY_DICTIONARY_ID, 2);
      parts.push(head);
      this.started = true;
    }
    for (let off = 0; off < block.length || off === 0; off += 0xffff) {
      const piece = block.subarray(off, off + 0xffff);
      const h = Buffer.alloc(5);
      h.writeUInt8(0, 0); // BFINAL=0, BTYPE=00 (stored), padded to the byte
      h.writeUInt16LE(piece.length, 1);
      h.writeUInt16LE(~piece.length & 0xffff, 3);
      parts.push(h, piece);
      if (block.length === 0) break;
    }
    // The sync-flush marker (an empty stored block), as zlib's Z_SYNC_FLUSH writes: Go's inflater
    // hands out a stored block's bytes only once it reads the next block header, which must be
    // inside this frame.
    parts.push(Buffer.from([0x00, 0x00, 0x00, 0xff, 0xff]));
    return Buffer.concat(parts);
  }
}

/**
 * The receiving side's zlib stream: one inflater for the connection, fed a block at a time and
 * flushed; output past `maxBlock` bytes fails the block (a zlib bomb closes the connection).
 * Calls must not overlap (the connection processes frames in order).
 */
export class HeaderDecompressor {
  private readonly inflate: zlib.Inflate = zlib.createInflate({ dictionary: SPDY_DICTIONARY });
  private broken: Error | undefined;

  constructor(private readonly maxBlock: number) {
    this.inflate.on('error', (e: Error) => {
      this.broken = new SpdyProtocolError(`header block: ${e.message}`);
    });
  }

  decompress(block: Buffer): Promise<Buffer> {
    if (this.broken) return Promise.reject(this.broken);
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let total = 0;
      let done = false;
      const finish = (err?: Error): void => {
        if (done) return;
        done = true;
        this.inflate.off('data', onData);
        this.inflate.off('error', onError);
        if (err) {
          this.broken = err;
          reject(err);
        } else resolve(Buffer.concat(chunks));
      };
      const onData = (c: Buffer): void => {
        total += c.length;
        if (total > this.maxBlock) {
          finish(new SpdyProtocolError(`header block over ${this.maxBlock} bytes decompressed`));
          this.inflate.destroy();
        } else chunks.push(c);
      };
      const onError = (e: Error): void => finish(new SpdyProtocolError(`header block: ${e.message}`));
      this.inflate.on('data', onData);
      this.inflate.on('error', onError);
      this.inflate.write(block);
      this.inflate.flush(zlib.constants.Z_SYNC_FLUSH, () => finish(this.broken));
    });
  }

  close(): void {
    this.inflate.destroy();
  }
}
