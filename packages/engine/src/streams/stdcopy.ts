/**
 * Docker's multiplexed stream framing ("application/vnd.docker.multiplexed-stream"), used for
 * attach, logs and exec when the process has no terminal: each frame is an 8-byte header
 * [stream, 0, 0, 0, size as uint32 big-endian] followed by `size` bytes of payload.
 */

export enum StdStream {
  Stdin = 0,
  Stdout = 1,
  Stderr = 2,
  /** Errors from the daemon itself, sent in-band once the response has started. */
  SystemErr = 3,
}

export const STDCOPY_HEADER_SIZE = 8;
const MAX_FRAME = 0xffffffff;

/** One frame (or more, for payloads above 4 GiB - 1) for `data` on `stream`. */
export function frame(stream: StdStream, data: Buffer | string): Buffer {
  const payload = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  if (payload.length <= MAX_FRAME) return Buffer.concat([header(stream, payload.length), payload]);
  const parts: Buffer[] = [];
  for (let off = 0; off < payload.length; off += MAX_FRAME) {
    const part = payload.subarray(off, Math.min(off + MAX_FRAME, payload.length));
    parts.push(header(stream, part.length), part);
  }
  return Buffer.concat(parts);
}

function header(stream: StdStream, size: number): Buffer {
  const h = Buffer.alloc(STDCOPY_HEADER_SIZE);
  h[0] = stream;
  h.writeUInt32BE(size, 4);
  return h;
}

export interface Frame {
  stream: StdStream;
  data: Buffer;
}

export class StdcopyError extends Error {}

/**
 * Incremental demultiplexer: push bytes as they arrive in any split, get whole frames back.
 * A frame larger than `maxFrame` (default 64 MiB) is refused rather than buffered.
 */
export class Demuxer {
  // input not yet returned, kept as received so byte-by-byte input stays linear
  private chunks: Buffer[] = [];
  private len = 0;

  constructor(private readonly maxFrame = 64 * 1024 * 1024) {}

  push(chunk: Buffer): Frame[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.len += chunk.length;
      // many small pieces of one big frame: merge now and then so shift() stays cheap
      if (this.chunks.length > 64) this.chunks = [Buffer.concat(this.chunks, this.len)];
    }
    const out: Frame[] = [];
    while (this.len >= STDCOPY_HEADER_SIZE) {
      const head = this.peek(STDCOPY_HEADER_SIZE);
      const stream = head[0]!;
      if (stream > (StdStream.SystemErr as number)) throw new StdcopyError(`unrecognized stream: ${stream}`);
      const size = head.readUInt32BE(4);
      if (size > this.maxFrame) throw new StdcopyError(`frame of ${size} bytes is larger than ${this.maxFrame}`);
      if (this.len < STDCOPY_HEADER_SIZE + size) break;
      out.push({ stream, data: this.take(STDCOPY_HEADER_SIZE + size).subarray(STDCOPY_HEADER_SIZE) });
    }
    return out;
  }

  /** Bytes held for an incomplete frame. */
  get pending(): number {
    return this.len;
  }

  /** The input ended: throws if it stopped in the middle of a frame. */
  end(): void {
    if (this.len > 0) throw new StdcopyError(`stream ended inside a frame (${this.len} bytes left)`);
  }

  private peek(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    const parts: Buffer[] = [];
    let got = 0;
    for (const c of this.chunks) {
      parts.push(c.subarray(0, n - got));
      got += Math.min(c.length, n - got);
      if (got === n) break;
    }
    return Buffer.concat(parts, n);
  }

  /** The first n bytes as a fresh buffer (so a frame does not pin the chunks it came in). */
  private take(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length, n - got);
      c.copy(out, got, 0, k);
      got += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.len -= n;
    return out;
  }
}

/** Demultiplex a whole readable (e.g. a hijacked socket) into frames. */
export async function* demux(source: AsyncIterable<Buffer | string>): AsyncGenerator<Frame> {
  const d = new Demuxer();
  for await (const chunk of source) yield* d.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  d.end();
}
