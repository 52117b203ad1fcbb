/**
 * `docker import`'s spooling of the rootfs tarball (spoolLayer) and `docker cp`'s (spool) under
 * hostile compression: a gzip bomb, a truncated or corrupt stream and an unsupported compression
 * are 400s, found without inflating the bomb to its end; good input gives the right digests.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { END_OF_ARCHIVE, padding, tarHeader } from '@gantry/archive';
import { spool } from '../src/containers/archive';
import { KindError } from '@gantry/linux';
import { toHttpError } from '../src/http/errors';
import { spoolLayer } from '../src/images/archive';

const MiB = 1 << 20;
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const ZERO_MEMBER = gzipSync(Buffer.alloc(MiB));

function layer(data: Buffer): Buffer {
  return Buffer.concat([
    tarHeader({ name: 'f', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, size: data.length }),
    data,
    Buffer.alloc(padding(data.length)),
    END_OF_ARCHIVE,
  ]);
}

/** A gzip stream of a tar holding one file of `mib` MiB of zeros, as a stream generated while read. */
function bomb(mib: number): { stream: Readable; pulled: () => number } {
  let pulled = 0;
  async function* gen(): AsyncGenerator<Buffer> {
    yield gzipSync(tarHeader({ name: 'zeros', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, size: mib * MiB }));
    for (let i = 0; i < mib; i++) {
      pulled++;
      yield ZERO_MEMBER;
    }
  }
  return { stream: Readable.from(gen()), pulled: () => pulled };
}

const statusOf = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => {
      expect(e).toBeInstanceOf(KindError);
      return toHttpError(e);
    },
  );

describe('spoolLayer (docker import)', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gii-'));
    file = path.join(dir, 'layer');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('gives the digest, size and diff ID of plain and gzipped layers', async () => {
    const tar = layer(randomBytes(5000));
    expect(await spoolLayer(Readable.from([tar]), file)).toEqual({ file, digest: sha(tar), size: tar.length, diffId: sha(tar), gzip: false });
    const gz = gzipSync(tar);
    expect(await spoolLayer(Readable.from([gz.subarray(0, 3), gz.subarray(3)]), file)).toEqual({
      file,
      digest: sha(gz),
      size: gz.length,
      diffId: sha(tar),
      gzip: true,
    });
  });

  it('refuses a 2 GiB gzip bomb with a 400, having inflated only the sane bound', async () => {
    const b = bomb(2048);
    const err = await statusOf(spoolLayer(b.stream, file));
    expect(err).toMatchObject({ status: 400, message: expect.stringMatching(/decompression bomb/) });
  });

  it('refuses truncated and corrupt gzip, xz and zstd, and what is not a tar', async () => {
    const gz = gzipSync(layer(randomBytes(20000)));
    expect(await statusOf(spoolLayer(Readable.from([gz.subarray(0, gz.length - 8)]), file))).toMatchObject({
      status: 400,
      message: expect.stringMatching(/^invalid gzip stream: unexpected end of file/),
    });
    const corrupt = Buffer.from(gz);
    corrupt.fill(0xaa, 50, 90);
    expect(await statusOf(spoolLayer(Readable.from([corrupt]), file))).toMatchObject({ status: 400, message: expect.stringMatching(/^invalid gzip stream/) });
    for (const magic of [Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 1, 2]), Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0])]) {
      expect(await statusOf(spoolLayer(Readable.from([magic]), file))).toMatchObject({
        status: 400,
        message: expect.stringMatching(/unsupported compression/),
      });
    }
    expect(await statusOf(spoolLayer(Readable.from([Buffer.alloc(600, 'x')]), file))).toMatchObject({
      status: 400,
      message: 'the imported file is not a tar archive',
    });
  });
});

describe('spool (docker cp)', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gis-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('inflates a gzipped body and refuses a bomb without writing it out', async () => {
    const tar = layer(randomBytes(3000));
    await spool(Readable.from([gzipSync(tar)]), path.join(dir, 'ok.tar'));
    expect(fs.readFileSync(path.join(dir, 'ok.tar')).equals(tar)).toBe(true);
    const b = bomb(2048);
    await expect(spool(b.stream, path.join(dir, 'bomb.tar'))).rejects.toThrow(/decompression bomb/);
    expect(b.pulled()).toBeLessThan(400);
    expect(fs.statSync(path.join(dir, 'bomb.tar')).size).toBeLessThan(300 * MiB);
  });
});
