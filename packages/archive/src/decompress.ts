/**
 * Bounded decompression of layers and image archives. A gzip stream can expand about a
 * thousandfold (2 GB of zeros compress to 2 MB), so every inflater here counts what it produced
 * and fails — with an ExpansionError, having read no further — once the output passes either
 *   - the disk budget (`maxBytes`: the free space where the bytes are going, less a reserve), or
 *   - the sane bound of a layer: past `ratioFloor` bytes, more than `maxRatio` bytes out per byte
 *     in (real layers compress 2-10:1; only runs of identical bytes go past 200:1) — per byte of
 *     the whole input when its size is known (`compressedSize`), else per byte read so far.
 * With the size known, the stream also carries its bound (`maxOutput`) so that readTar refuses a
 * member declaring more than that at its header, before inflating any of it.
 * Output is pulled (backpressure all the way down to zlib), so memory stays at a few chunks
 * whatever the input. A truncated gzip stream is an error, as is zstd/xz/bzip2 input.
 */
import * as fs from 'node:fs';
import { createGunzip } from 'node:zlib';

export type Compression = 'gzip' | 'zstd' | 'xz' | 'bzip2' | 'none';

/** Compression of a stream from its first bytes (magic numbers). */
export function detectCompression(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  if (head.length >= 6 && head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  if (head.length >= 3 && head.toString('latin1', 0, 3) === 'BZh') return 'bzip2';
  return 'none';
}

export interface ExpansionLimits {
  /** Most bytes of output in all (the disk budget); no limit when undefined. */
  maxBytes?: number;
  /** What `maxBytes` is, for the error message (e.g. "free space in /var/lib/x"). */
  budget?: string;
  /** Most bytes out per compressed byte in, once past `ratioFloor` bytes of output. */
  maxRatio?: number;
  ratioFloor?: number;
  /**
   * The size of the whole compressed input, when known (a stored layer blob, a spooled file): the
   * sane bound is then on the whole — at most max(ratioFloor, maxRatio × compressedSize) bytes out,
   * so a real layer that starts with a long run of zeros passes — and a tar reader over the
   * output can refuse a member that declares more than that before inflating any of it.
   */
  compressedSize?: number;
}

/** The most bytes a stream may give, known before reading it, and which bound that is. */
export interface OutputBound {
  bytes: number;
  kind: 'budget' | 'ratio';
  /** For messages: "the free space under /x", "200:1 of its 2048 compressed bytes". */
  why: string;
}

/** The most bytes `limits` let out, when that is known before reading (undefined: no such bound). */
function maxOutput(limits: ExpansionLimits): OutputBound | undefined {
  const { maxBytes, maxRatio, ratioFloor = 0, compressedSize } = limits;
  const ratioBound = compressedSize !== undefined && maxRatio !== undefined ? Math.max(ratioFloor, maxRatio * compressedSize) : Infinity;
  if (maxBytes !== undefined && maxBytes <= ratioBound) return { bytes: maxBytes, kind: 'budget', why: limits.budget ?? 'the disk budget' };
  if (Number.isFinite(ratioBound)) return { bytes: ratioBound, kind: 'ratio', why: `${maxRatio}:1 of its ${compressedSize} compressed bytes` };
  return undefined;
}

/** The sane bound of a layer or archive: 200:1 once past 128 MiB. */
export const LAYER_RATIO = { maxRatio: 200, ratioFloor: 128 << 20 } as const;

/** Input that cannot be decompressed within its limits, or is not a stream we can decompress. */
export class ExpansionError extends Error {
  constructor(
    message: string,
    /** 'budget': past maxBytes; 'ratio': past the sane bound; 'format': not valid (or supported) input. */
    readonly kind: 'budget' | 'ratio' | 'format',
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ExpansionError';
  }
}

/**
 * The disk budget of writing under `dir`: its filesystem's free space (for unprivileged users
 * as for root: `bavail`) less a reserve of 5% of the filesystem, at most 512 MiB, so that a
 * layer that fits still leaves the host room to work.
 */
export function diskBudget(dir: string): ExpansionLimits {
  const st = fs.statfsSync(dir);
  const reserve = Math.min(512 << 20, Math.floor(st.blocks * st.bsize * 0.05));
  return { maxBytes: Math.max(0, st.bavail * st.bsize - reserve), budget: `the free space under ${dir}` };
}

/** The limits of a layer applied under `dir`: its sane bound and the disk budget there. */
export function layerLimits(dir: string): ExpansionLimits {
  return { ...LAYER_RATIO, ...diskBudget(dir) };
}

const toBuffer = (v: unknown): Buffer => (Buffer.isBuffer(v) ? v : typeof v === 'string' ? Buffer.from(v) : Buffer.from(v as Uint8Array));

class Meter {
  in = 0;
  out = 0;
  constructor(
    private readonly limits: ExpansionLimits,
    private readonly what: string,
  ) {}

  produced(n: number): void {
    this.out += n;
    const { maxBytes, maxRatio, ratioFloor = 0 } = this.limits;
    if (maxBytes !== undefined && this.out > maxBytes) {
      throw new ExpansionError(`${this.what} needs more than ${maxBytes} bytes${this.limits.budget ? `, ${this.limits.budget}` : ''}`, 'budget');
    }
    if (maxRatio === undefined) return;
    const whole = this.limits.compressedSize;
    if (whole !== undefined) {
      const bound = Math.max(ratioFloor, maxRatio * whole);
      if (this.out > bound)
        throw new ExpansionError(
          `${this.what} expands past ${bound} bytes, more than ${maxRatio}:1 of its ${whole} compressed bytes: refused as a decompression bomb`,
          'ratio',
        );
    } else if (this.out > ratioFloor && this.out > maxRatio * this.in) {
      throw new ExpansionError(
        `${this.what} expands more than ${maxRatio}:1 past ${ratioFloor} bytes (${this.in} compressed bytes gave ${this.out}): refused as a decompression bomb`,
        'ratio',
      );
    }
  }
}

/** The inflated bytes of a gzip stream (every member of it), within `limits`. */
export async function* gunzipBounded(src: AsyncIterable<unknown>, limits: ExpansionLimits = LAYER_RATIO, what = 'the gzip stream'): AsyncGenerator<Buffer> {
  const meter = new Meter(limits, what);
  const gunzip = createGunzip({ chunkSize: 256 << 10 });
  let stop = false;
  // feed the compressed bytes by hand, honouring backpressure, so errors on either side end both
  const feeding = (async () => {
    try {
      for await (const raw of src) {
        if (stop || gunzip.destroyed) return;
        const chunk = toBuffer(raw);
        meter.in += chunk.length;
        if (!gunzip.write(chunk)) {
          await new Promise<void>((resolve) => {
            const done = () => {
              gunzip.off('drain', done);
              gunzip.off('close', done);
              resolve();
            };
            gunzip.on('drain', done);
            gunzip.on('close', done);
          });
        }
      }
      if (!gunzip.destroyed) gunzip.end();
    } catch (e) {
      gunzip.destroy(e instanceof Error ? e : new Error(String(e)));
    }
  })();
  try {
    for await (const chunk of gunzip) {
      meter.produced((chunk as Buffer).length);
      yield chunk as Buffer;
    }
  } catch (e) {
    if (e instanceof ExpansionError) throw e;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('Z_')) throw new ExpansionError(`gzip: ${(e as Error).message}`, 'format', { cause: e });
    throw e; // the input's own error (a read that failed)
  } finally {
    // not awaited: the feeder may be waiting on input that never comes; the caller ends the input
    stop = true;
    gunzip.destroy();
    void feeding;
  }
}

/** An output stream that knows the most bytes it may give (a ByteSource picks it up for readTar). */
export type BoundedStream = AsyncGenerator<Buffer> & { maxOutput?: OutputBound };

/**
 * The uncompressed bytes of a stream: gzip (detected by its magic) inflated within `limits`,
 * plain input passed through (within `maxBytes`); zstd, xz and bzip2 refused. `what` names the
 * input in messages ("layers", "image archives"). The stream carries `maxOutput(limits)`.
 */
export function decompressed(src: AsyncIterable<unknown>, limits: ExpansionLimits = LAYER_RATIO, what = 'layers'): BoundedStream {
  const out: BoundedStream = decompressing(src, limits, what);
  const max = maxOutput(limits);
  if (max !== undefined) out.maxOutput = max;
  return out;
}

async function* decompressing(src: AsyncIterable<unknown>, limits: ExpansionLimits, what: string): AsyncGenerator<Buffer> {
  const it = src[Symbol.asyncIterator]();
  let head = Buffer.alloc(0);
  let ended = false;
  while (head.length < 6) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    head = Buffer.concat([head, toBuffer(r.value)]);
  }
  const kind = detectCompression(head);
  if (kind !== 'gzip' && kind !== 'none') {
    await it.return?.();
    throw new ExpansionError(`${kind}-compressed ${what} are not supported (gzip or uncompressed tar only)`, 'format');
  }
  async function* raw(): AsyncGenerator<Buffer> {
    try {
      if (head.length > 0) yield head;
      while (!ended) {
        const r = await it.next();
        if (r.done) return;
        yield toBuffer(r.value);
      }
    } finally {
      if (!ended) await it.return?.();
    }
  }
  const label = what.replace(/s$/, '');
  if (kind === 'gzip') {
    yield* gunzipBounded(raw(), limits, `the ${label}`);
    return;
  }
  const meter = new Meter(
    { ...(limits.maxBytes !== undefined ? { maxBytes: limits.maxBytes } : {}), ...(limits.budget ? { budget: limits.budget } : {}) },
    `the ${label}`,
  );
  for await (const c of raw()) {
    meter.produced(c.length);
    yield c;
  }
}
