/**
 * Bounded decompression: a gzip bomb stops at the sane bound having read only the start of its
 * input, the disk budget holds for gzip and plain input, and truncated, corrupt or unsupported
 * streams are ExpansionErrors. (gantry-containerd's test/apply-limits.test.ts: applyLayer applies
 * those limits.)
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { zeroBomb } from '@gantry/testkit';
import { decompressed, diskBudget, ExpansionError, LAYER_RATIO } from '../src/decompress';

const MiB = 1 << 20;
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
