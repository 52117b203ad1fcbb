/**
 * Hostile archives through the Archives service (Import with unpack) of an in-process daemon: each
 * is refused with INVALID_ARGUMENT (quickly, while the daemon keeps answering other calls) and
 * leaves nothing: no image record, no snapshot, no lease, and after GC no content; a name that
 * existed before keeps its image. Root (overlay mounts) is needed.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { credentials, status, type ServiceError } from '@grpc/grpc-js';
import { archives, namespaceMetadata, version } from '@gantry/api';
import { hostPlatform } from '@gantry/oci';
import { Logger } from '@gantry/linux';
import { startDaemon, type Daemon } from '../src/server';
import { rpc } from './services-harness';
import { describeIf, needRoot } from '@gantry/testkit';
import { base256, END, fileMember, paxHeader, paxRecord, rawHeader } from '@gantry/testkit';

const d = describeIf(needRoot());

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const MiB = 1 << 20;
const ZERO_MEMBER = gzipSync(Buffer.alloc(MiB));

/** A docker-archive (what `docker save` writes) of one image made of `layers` (tar or tar.gz bytes). */
function dockerArchive(layers: { bytes: Buffer; diffId?: string }[], tag: string, extra: Buffer[] = []): Buffer {
  const host = hostPlatform();
  const config = Buffer.from(
    JSON.stringify({
      architecture: host.architecture,
      os: 'linux',
      config: {},
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId ?? sha(l.bytes)) },
    }),
  );
  const names = layers.map((_, i) => `l${i}/layer.tar`);
  const manifest = Buffer.from(JSON.stringify([{ Config: 'config.json', RepoTags: [tag], Layers: names }]));
  return Buffer.concat([
    ...layers.map((l, i) => fileMember(names[i]!, l.bytes)),
    fileMember('config.json', config),
    ...extra,
    fileMember('manifest.json', manifest),
    END,
  ]);
}

const goodLayer = (file = 'hello', data = 'world') => ({ bytes: Buffer.concat([fileMember(file, data), END]) });
/** A gzip stream of `mib` MiB of zeros after the gzipped `prefix` (multi-member). */
const zeroBomb = (mib: number, prefix: Buffer) => Buffer.concat([gzipSync(prefix), ...Array.from({ length: mib }, () => ZERO_MEMBER)]);

function split(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  return out.length > 0 ? out : [Buffer.alloc(0)];
}

d('Archives.Import of hostile archives (root)', () => {
  let dir: string;
  let daemon: Daemon;
  let client: archives.ArchivesClient;
  let ver: version.VersionClient;

  const importChunks = (ns: string, data: Buffer, opts: Partial<archives.ImportRequest> = { unpack: true }): Promise<archives.ImportResponse> =>
    new Promise((resolve, reject) => {
      const call = client.import(namespaceMetadata(ns), (err: ServiceError | null, res?: archives.ImportResponse) => (err ? reject(err) : resolve(res!)));
      split(data, 256 * 1024).forEach((c, i) => call.write(archives.ImportRequest.fromPartial(i === 0 ? { ...opts, data: c } : { data: c })));
      call.end();
    });

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'garh-'));
    daemon = await startDaemon({ address: path.join(dir, 'c.sock'), root: path.join(dir, 'root'), state: path.join(dir, 'state'), log: new Logger('error') });
    client = new archives.ArchivesClient(`unix://${path.join(dir, 'c.sock')}`, credentials.createInsecure());
    ver = new version.VersionClient(`unix://${path.join(dir, 'c.sock')}`, credentials.createInsecure());
  }, 60000);

  afterAll(async () => {
    client?.close();
    ver?.close();
    await daemon?.close();
    spawnSync('sh', ['-c', `grep -o " ${dir}[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l`]);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const overlay = () => daemon.stores.snapshotters.get('overlayfs')!;

  /** Nothing of namespace `ns` is left once garbage is collected (images: only `keep`). */
  async function expectNothingLeft(ns: string, keep: string[] = []): Promise<void> {
    expect(daemon.stores.images.list(ns).map((i) => i.name)).toEqual(keep);
    expect(daemon.stores.leases.list(ns)).toEqual([]);
    await daemon.stores.collectGarbage(ns);
    if (keep.length === 0) {
      expect(daemon.stores.content.list(ns, [])).toEqual([]);
      expect(overlay().list(ns, [])).toEqual([]);
    }
    expect(daemon.stores.content.listStatuses(ns, [])).toEqual([]);
  }

  const hostile: { name: string; archive: () => Buffer; error: RegExp }[] = [
    {
      name: 'a layer with a hard link out of the root',
      archive: () =>
        dockerArchive(
          [goodLayer(), { bytes: Buffer.concat([rawHeader({ name: 'hl', type: '1', linkname: '../../../../etc/passwd' }), END]) }],
          'example.com/hostile:hl',
        ),
      error: /failed to unpack layer sha256:[0-9a-f]{64}: .*"hl": path escapes the (layer|extraction) root/,
    },
    {
      name: 'a layer whose PAX size is 1.5',
      archive: () => dockerArchive([{ bytes: Buffer.concat([paxHeader(paxRecord('size', '1.5')), fileMember('f', 'xx'), END]) }], 'example.com/hostile:pax'),
      error: /failed to unpack layer .*invalid PAX size "1.5"/,
    },
    {
      name: 'a layer with a negative base-256 size',
      archive: () => dockerArchive([{ bytes: Buffer.concat([rawHeader({ name: 'f', size: base256(-5n) }), END]) }], 'example.com/hostile:neg'),
      error: /negative base-256 size/,
    },
    {
      name: 'a layer that is a 2 GiB gzip bomb',
      archive: () =>
        dockerArchive([{ bytes: zeroBomb(2048, rawHeader({ name: 'zeros', size: 2048 * MiB })), diffId: sha(Buffer.from('x')) }], 'example.com/hostile:bomb'),
      error: /decompression bomb/,
    },
    {
      name: 'a layer that is a truncated gzip stream',
      archive: () => {
        const gz = gzipSync(Buffer.concat([fileMember('f', 'x'.repeat(5000)), END]));
        return dockerArchive([{ bytes: gz.subarray(0, gz.length - 10), diffId: sha(Buffer.from('y')) }], 'example.com/hostile:trunc');
      },
      error: /gzip: unexpected end of file/,
    },
    {
      name: 'a layer entry climbing out with ../',
      archive: () => dockerArchive([{ bytes: Buffer.concat([fileMember('../../x', 'pwned'), END]) }], 'example.com/hostile:dotdot'),
      error: /path escapes the (layer|extraction) root/,
    },
    {
      name: 'an archive gzipped with a truncated stream',
      archive: () => {
        const gz = gzipSync(dockerArchive([goodLayer()], 'example.com/hostile:outer'));
        return gz.subarray(0, gz.length - 4);
      },
      error: /gzip: unexpected end of file/,
    },
    {
      name: 'an archive that is 2 GiB of gzipped zeros',
      archive: () => zeroBomb(2048, Buffer.alloc(0)),
      error: /after the end-of-archive marker|decompression bomb/,
    },
    {
      name: 'a manifest.json of 1 GiB (refused at its header)',
      archive: () => Buffer.concat([rawHeader({ name: 'manifest.json', size: 1 << 30 }), Buffer.alloc(4096)]),
      error: /manifest.json in the archive has 1073741824 bytes, over the 8388608-byte limit/,
    },
    {
      name: 'a config of 16 MiB',
      archive: () => {
        const manifest = Buffer.from(JSON.stringify([{ Config: 'big.json', RepoTags: ['example.com/hostile:cfg'], Layers: [] }]));
        return Buffer.concat([rawHeader({ name: 'big.json', size: 16 * MiB }), Buffer.alloc(16 * MiB), fileMember('manifest.json', manifest), END]);
      },
      error: /config big.json in the archive has 16777216 bytes, over the 8388608-byte limit/,
    },
    {
      name: 'a manifest.json whose Layers is not a list',
      archive: () => Buffer.concat([fileMember('manifest.json', JSON.stringify([{ Config: 'c.json', Layers: 'l.tar', RepoTags: ['x:y'] }])), END]),
      error: /manifest.json: invalid entry/,
    },
    {
      name: 'a config whose diff ID is a path',
      archive: () => dockerArchive([{ ...goodLayer(), diffId: '../../../x' }], 'example.com/hostile:diffid'),
      error: /invalid diff ID "..\/..\/..\/x"/,
    },
  ];

  hostile.forEach((c, i) => {
    it(`refuses ${c.name}, keeps serving and leaves nothing`, async () => {
      const ns = `h${i}`;
      const started = Date.now();
      const importing = importChunks(ns, c.archive()).then(
        () => undefined,
        (e: unknown) => e,
      );
      // the daemon answers other calls meanwhile
      await rpc((cb) => ver.version({}, cb));
      expect(await importing).toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringMatching(c.error) });
      expect(Date.now() - started).toBeLessThan(30_000);
      await expectNothingLeft(ns);
    });
  });

  it('a name that existed keeps its image when an archive for it fails to unpack', async () => {
    const ns = 'keep';
    const good = dockerArchive([goodLayer('a', '1')], 'example.com/hostile:same');
    const res = await importChunks(ns, good);
    const before = daemon.stores.images.get(ns, 'example.com/hostile:same');
    const snapshots = overlay()
      .list(ns, [])
      .map((s) => s.name);
    expect(snapshots).toEqual([res.images[0]!.chainId]);
    const bad = dockerArchive(
      [goodLayer('b', '2'), { bytes: Buffer.concat([rawHeader({ name: 'hl', type: '1', linkname: 'nonexistent' }), END]) }],
      'example.com/hostile:same',
    );
    await expect(importChunks(ns, bad)).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    expect(daemon.stores.images.get(ns, 'example.com/hostile:same').target).toEqual(before.target);
    await expectNothingLeft(ns, ['example.com/hostile:same']);
    expect(
      overlay()
        .list(ns, [])
        .map((s) => s.name),
    ).toEqual(snapshots);
  });

  it('a good archive still imports and unpacks after all that', async () => {
    const res = await importChunks('fine', dockerArchive([goodLayer(), goodLayer('second', '2')], 'example.com/fine:1'));
    expect(res.images.map((i) => i.name)).toEqual(['example.com/fine:1']);
    expect(overlay().list('fine', []).length).toBe(2);
  });
});
