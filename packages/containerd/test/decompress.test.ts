/**
 * Bounded decompression: a gzip bomb stops at the sane bound having read only the start of its
 * input, the disk budget holds for gzip and plain input, and truncated, corrupt or unsupported
 * streams are ExpansionErrors. applyLayer applies those limits.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { applyLayer, LayerError } from '../src/diff/apply';
import { decompressed, diskBudget, ExpansionError, LAYER_RATIO } from '../src/diff/decompress';
import { END, rawHeader } from './tar-fixtures';
import { tmpDir } from './diff-helpers';

const MiB = 1 << 20;
/** One gzip member of 1 MiB of zeros (about 1 KB): concatenated members are one gzip stream. */
const ZERO_MEMBER = gzipSync(Buffer.alloc(MiB));

/** A gzip stream of `mib` MiB of zeros after `prefix`, generated as it is read; counts what was pulled. */
function zeroBomb(mib: number, prefix = Buffer.alloc(0)): { stream: Readable; pulled: () => number } {
  let pulled = 0;
  async function* gen(): AsyncGenerator<Buffer> {
    if (prefix.length > 0) yield gzipSync(prefix);
    for (let i = 0; i < mib; i++) {
      pulled++;
      yield ZERO_MEMBER;
    }
  }
  return { stream: Readable.from(gen()), pulled: () => pulled };
}

async function collect(src: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const c of src) out.push(c);
  return out;
}

async function drain(src: AsyncIterable<Buffer>): Promise<number> {
  let n = 0;
  for await (const c of src) n += c.length;
  return n;
}

const errorOf = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

describe('decompressed()', () => {
  it('passes plain input through and inflates gzip, multi-member included', async () => {
    const data = randomBytes(3 * MiB + 17);
    const plain = Buffer.concat(await collect(decompressed(Readable.from([data.subarray(0, 3), data.subarray(3)]))));
    expect(plain.equals(data)).toBe(true);
    const gz = Buffer.concat([gzipSync(data.subarray(0, MiB)), gzipSync(data.subarray(MiB))]);
    const inflated = Buffer.concat(await collect(decompressed(Readable.from([gz]))));
    expect(inflated.equals(data)).toBe(true);
  });

  it('stops a 2 GiB gzip bomb at the sane bound, having pulled a fraction of it', async () => {
    const bomb = zeroBomb(2048);
    const err = await errorOf(drain(decompressed(bomb.stream)));
    expect(err).toBeInstanceOf(ExpansionError);
    expect((err as ExpansionError).kind).toBe('ratio');
    expect((err as Error).message).toMatch(/expands more than 200:1 past 134217728 bytes/);
    // the bound is 128 MiB: a little more than that was pulled (what zlib and the streams buffer)
    expect(bomb.pulled()).toBeGreaterThanOrEqual(LAYER_RATIO.ratioFloor / MiB);
    expect(bomb.pulled()).toBeLessThan(400);
  });

  it('holds the disk budget for gzip and for plain input', async () => {
    const data = randomBytes(4 * MiB);
    const limits = { maxBytes: MiB, budget: 'the test budget' };
    const gz = await errorOf(drain(decompressed(Readable.from([gzipSync(data)]), limits)));
    expect(gz).toMatchObject({ kind: 'budget', message: expect.stringMatching(/needs more than 1048576 bytes, the test budget/) });
    const plain = await errorOf(drain(decompressed(Readable.from([data.subarray(0, MiB), data.subarray(MiB)]), limits)));
    expect(plain).toMatchObject({ kind: 'budget' });
  });

  it('refuses truncated and corrupt gzip, and zstd', async () => {
    const gz = gzipSync(randomBytes(100_000));
    const truncated = await errorOf(drain(decompressed(Readable.from([gz.subarray(0, gz.length - 6)]))));
    expect(truncated).toMatchObject({ kind: 'format', message: expect.stringMatching(/^gzip: unexpected end of file/) });
    const corrupt = Buffer.from(gz);
    corrupt.fill(0x55, 100, 200);
    expect(await errorOf(drain(decompressed(Readable.from([corrupt]))))).toMatchObject({ kind: 'format', message: expect.stringMatching(/^gzip: /) });
    const zstd = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]);
    expect(await errorOf(drain(decompressed(Readable.from([zstd]), {}, 'image archives')))).toMatchObject({
      kind: 'format',
      message: 'zstd-compressed image archives are not supported (gzip or uncompressed tar only)',
    });
  });

  it('diskBudget is the free space less a reserve', () => {
    const st = fs.statfsSync('/tmp');
    const b = diskBudget('/tmp');
    expect(b.maxBytes).toBeLessThanOrEqual(st.bavail * st.bsize);
    expect(b.maxBytes).toBeGreaterThanOrEqual(st.bavail * st.bsize - (512 << 20));
  });
});

describe('applyLayer limits', () => {
  let dir: string;
  beforeEach(() => (dir = tmpDir('gantry-bomb-')));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a layer whose one file is a 2 GiB zero bomb fails with a LayerError at the sane bound', async () => {
    const bomb = zeroBomb(2048, rawHeader({ name: 'zeros', size: 2048 * MiB }));
    const err = await errorOf(applyLayer(bomb.stream, dir));
    expect(err).toBeInstanceOf(LayerError);
    expect((err as Error).message).toMatch(/decompression bomb/);
    expect(bomb.pulled()).toBeLessThan(400);
  });

  it('knowing the compressed size, a bomb is refused at its header, before inflating its data', async () => {
    const bomb = zeroBomb(2048, rawHeader({ name: 'zeros', size: 2048 * MiB }));
    const err = await errorOf(applyLayer(bomb.stream, dir, { limits: { ...LAYER_RATIO, compressedSize: 2048 * ZERO_MEMBER.length } }));
    expect(err).toBeInstanceOf(LayerError);
    expect((err as Error).message).toMatch(
      /a 2147483648-byte member goes past the \d+ bytes this stream may expand to \(200:1 of its \d+ compressed bytes\): refused as a decompression bomb/,
    );
    expect(bomb.pulled()).toBeLessThan(40); // what the streams prefetch
  });

  it('knowing the compressed size, a layer that starts with a run of zeros passes (the bound is on the whole)', async () => {
    const zeros = Buffer.alloc(2 * MiB);
    const noise = randomBytes(64 * 1024);
    const tar = Buffer.concat([rawHeader({ name: 'zeros', size: zeros.length }), zeros, rawHeader({ name: 'noise', size: noise.length }), noise, END]);
    const gz = gzipSync(tar);
    const limits = { maxRatio: 200, ratioFloor: MiB };
    const pieces = () => Readable.from(Array.from({ length: Math.ceil(gz.length / 512) }, (_, i) => gz.subarray(i * 512, (i + 1) * 512)));
    await expect(applyLayer(pieces(), dir, { limits: { ...limits, compressedSize: gz.length } })).resolves.toMatchObject({ size: tar.length });
  });

  it('a layer over the disk budget fails', async () => {
    const data = randomBytes(2 * MiB);
    const tar = gzipSync(Buffer.concat([rawHeader({ name: 'f', size: data.length }), data, END]));
    const err = await errorOf(applyLayer(Readable.from([tar]), dir, { limits: { maxBytes: MiB, budget: 'the free space under x' } }));
    expect(err).toBeInstanceOf(LayerError);
    expect((err as Error).message).toMatch(/goes past the 1048576 bytes this stream may expand to \(the free space under x\)/);
  });

  it('a layer of zeros after its end marker fails at the trailing-data bound', async () => {
    const bomb = zeroBomb(2048, END);
    await expect(applyLayer(bomb.stream, dir)).rejects.toThrow(/more than 16777216 bytes after the end-of-archive marker/);
    expect(bomb.pulled()).toBeLessThan(100);
  });
});
