/** applyLayer under the decompression limits of @gantry/archive: bombs, disk budget, trailing data. */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { LAYER_RATIO, LayerError } from '@gantry/archive';
import { END, GZIP_ZERO_MIB, rawHeader, zeroBomb } from '@gantry/testkit';
import { applyLayer } from '../src/diff/apply';
import { tmpDir } from './diff-helpers';

const MiB = 1 << 20;

const errorOf = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

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
    const err = await errorOf(applyLayer(bomb.stream, dir, { limits: { ...LAYER_RATIO, compressedSize: 2048 * GZIP_ZERO_MIB.length } }));
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
