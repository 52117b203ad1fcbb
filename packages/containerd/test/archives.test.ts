/**
 * The Archives service (gantry.services.archives.v1) through the generated ArchivesClient against
 * an in-process daemon: import of a docker-archive with unpack, export read back by skopeo and
 * re-imported into another namespace, and the error paths (unknown name, garbage, cancel).
 * Root (overlay mounts) and skopeo are needed.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { credentials, status, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { archives, images, introspection, namespaceMetadata } from '@gantry/api';
import { Logger } from '@gantry/linux';
import { startDaemon, type Daemon } from '../src/server';
import { rpc } from './services-harness';
import { busyboxArchive, describeIf, needRoot, needTool } from '@gantry/testkit';

const d = describeIf(needRoot(), needTool('skopeo'));

const NAME = 'docker.io/gantry/busybox:arch';

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Import `chunks` (the first message carries `opts`), resolving with the response or rejecting with the status. */
function importChunks(
  client: archives.ArchivesClient,
  ns: string,
  chunks: Buffer[],
  opts: Partial<archives.ImportRequest> = {},
): Promise<archives.ImportResponse> {
  return new Promise((resolve, reject) => {
    const call = client.import(namespaceMetadata(ns), (err: ServiceError | null, res?: archives.ImportResponse) => (err ? reject(err) : resolve(res!)));
    const msgs = chunks.length === 0 ? [Buffer.alloc(0)] : chunks;
    msgs.forEach((data, i) => call.write(archives.ImportRequest.fromPartial(i === 0 ? { ...opts, data } : { data })));
    call.end();
  });
}

function split(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  return out;
}

/** Export into a buffer; also records the size of every message. */
function exportAll(client: archives.ArchivesClient, ns: string, req: Partial<archives.ExportRequest>): Promise<{ data: Buffer; sizes: number[] }> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    const s: ClientReadableStream<archives.ExportResponse> = client.export(archives.ExportRequest.fromPartial(req), namespaceMetadata(ns));
    s.on('data', (r: archives.ExportResponse) => parts.push(r.data));
    s.on('error', reject);
    s.on('end', () => resolve({ data: Buffer.concat(parts), sizes: parts.map((p) => p.length) }));
  });
}

d('Archives service (root, skopeo)', () => {
  let dir: string;
  let daemon: Daemon;
  let client: archives.ArchivesClient;
  let imgs: images.ImagesClient;
  let archive: Buffer;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'garch-'));
    const file = path.join(dir, 'busybox.tar');
    busyboxArchive(file, 'gantry/busybox:arch');
    archive = fs.readFileSync(file);
    daemon = await startDaemon({ address: path.join(dir, 'c.sock'), root: path.join(dir, 'root'), state: path.join(dir, 'state'), log: new Logger('error') });
    const addr = `unix://${path.join(dir, 'c.sock')}`;
    client = new archives.ArchivesClient(addr, credentials.createInsecure());
    imgs = new images.ImagesClient(addr, credentials.createInsecure());
  }, 60000);

  afterAll(async () => {
    client?.close();
    imgs?.close();
    await daemon?.close();
    spawnSync('sh', ['-c', `grep -o " ${dir}[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l`]);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const overlay = () => daemon.stores.snapshotters.get('overlayfs')!;

  it('is listed by Introspection as io.containerd.grpc.v1 archives', async () => {
    const intro = new introspection.IntrospectionClient(`unix://${path.join(dir, 'c.sock')}`, credentials.createInsecure());
    try {
      const res = await rpc<introspection.PluginsResponse>((cb) => intro.plugins({ filters: ['type==io.containerd.grpc.v1,id==archives'] }, cb));
      expect(res.plugins.map((p) => p.id)).toEqual(['archives']);
    } finally {
      intro.close();
    }
  });

  it('imports the busybox docker-archive in chunks with unpack: the image is listed and its snapshot committed', async () => {
    const res = await importChunks(client, 'a', split(archive, 100_000), { unpack: true });
    expect(res.images).toHaveLength(1);
    const [img] = res.images;
    expect(img!.name).toBe(NAME);
    expect(img!.target).toMatchObject({
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
    });
    expect(img!.chainId).toMatch(/^sha256:[0-9a-f]{64}$/);

    const listed = await rpc<images.ListImagesResponse>((cb) => imgs.list({ filters: [] }, namespaceMetadata('a'), cb));
    expect(listed.images.map((i) => [i.name, i.target?.digest])).toEqual([[NAME, img!.target!.digest]]);
    const snap = overlay().stat('a', img!.chainId);
    expect(snap.kind).toBe('committed');
    // the config holds the snapshot for GC; the unpack lease is gone
    const configs = daemon.stores.content.list('a', []).filter((i) => i.labels['containerd.io/gc.ref.snapshot.overlayfs'] === img!.chainId);
    expect(configs).toHaveLength(1);
    expect(daemon.stores.leases.list('a')).toEqual([]);
    // and GC keeps all of it
    await daemon.stores.collectGarbage('a');
    expect(overlay().stat('a', img!.chainId).kind).toBe('committed');
  });

  it('a gzipped archive in one message imports too; a second unpack reuses the snapshot', async () => {
    const gz = Buffer.from(spawnSync('gzip', ['-c'], { input: archive, maxBuffer: 1 << 30 }).stdout);
    const res = await importChunks(client, 'a', [gz], { unpack: true, snapshotter: 'overlayfs', platform: 'linux/amd64' });
    expect(res.images.map((i) => i.name)).toEqual([NAME]);
    expect(
      overlay()
        .list('a', [])
        .map((s) => s.name),
    ).toEqual([res.images[0]!.chainId]);
  });

  it('exports the image as an archive skopeo reads (oci-archive: and docker-archive:) that imports into another namespace with the same manifest digest', async () => {
    const got = await rpc<images.GetImageResponse>((cb) => imgs.get({ name: NAME }, namespaceMetadata('a'), cb));
    const { data, sizes } = await exportAll(client, 'a', { names: [NAME] });
    expect(Math.max(...sizes)).toBeLessThanOrEqual(256 * 1024);
    expect(sizes.length).toBeGreaterThan(1);
    const file = path.join(dir, 'export.tar');
    fs.writeFileSync(file, data);

    const viaOci = JSON.parse(run('skopeo', ['inspect', `oci-archive:${file}`])) as { Digest: string; Layers: string[]; Os: string };
    expect(viaOci.Digest).toBe(got.image!.target!.digest);
    expect(viaOci.Os).toBe('linux');
    expect(viaOci.Layers).toHaveLength(1);
    const viaDocker = JSON.parse(run('skopeo', ['inspect', `docker-archive:${file}`])) as { Layers: string[]; Os: string };
    expect(viaDocker.Layers).toEqual(viaOci.Layers);
    expect(viaDocker.Os).toBe('linux');
    // skopeo's inspect does not report an archive's tags: read the docker manifest.json itself
    const dockerManifest = JSON.parse(run('tar', ['-xOf', file, 'manifest.json'])) as { RepoTags: string[] }[];
    expect(dockerManifest.map((m) => m.RepoTags)).toEqual([['gantry/busybox:arch']]);
    // and skopeo can copy out of it by that tag
    run('skopeo', ['inspect', `docker-archive:${file}:gantry/busybox:arch`]);

    const again = await importChunks(client, 'b', split(data, 64 * 1024));
    expect(again.images.map((i) => [i.name, i.target?.digest, i.chainId])).toEqual([[NAME, got.image!.target!.digest, '']]);
    const inB = await rpc<images.GetImageResponse>((cb) => imgs.get({ name: NAME }, namespaceMetadata('b'), cb));
    expect(inB.image?.target?.digest).toBe(got.image!.target!.digest);
  });

  it('gives a nameless OCI manifest the name option, and imports nothing nameless without it', async () => {
    const file = path.join(dir, 'nameless-oci.tar');
    run('skopeo', ['copy', '--quiet', `docker-archive:${path.join(dir, 'busybox.tar')}`, `oci-archive:${file}`]);
    const oci = fs.readFileSync(file);
    expect((await importChunks(client, 'n', [oci])).images).toEqual([]);
    const named = await importChunks(client, 'n', [oci], { name: 'example.com/named:v1', unpack: true });
    expect(named.images.map((i) => [i.name, i.target?.mediaType])).toEqual([['example.com/named:v1', 'application/vnd.oci.image.manifest.v1+json']]);
    expect(overlay().stat('n', named.images[0]!.chainId).kind).toBe('committed');
    // the same layout again, into a namespace that has every blob already (docker load twice)
    const again = await importChunks(client, 'n', split(oci, 50_000), { name: 'example.com/named:v1' });
    expect(again.images.map((i) => i.target?.digest)).toEqual([named.images[0]!.target?.digest]);
  });

  it('a client that cancels an export mid-stream does not disturb the next one', async () => {
    const first = await new Promise<number>((resolve, reject) => {
      const s = client.export(archives.ExportRequest.fromPartial({ names: [NAME] }), namespaceMetadata('a'));
      let n = 0;
      s.on('data', () => {
        if (++n === 1) s.cancel();
      });
      s.on('error', (e: ServiceError) => (e.code === status.CANCELLED ? resolve(n) : reject(e)));
      s.on('end', () => reject(new Error('export ended although cancelled')));
    });
    expect(first).toBeGreaterThanOrEqual(1);
    const { data } = await exportAll(client, 'a', { names: [NAME] });
    expect(data.length % 512).toBe(0);
    expect(data.length).toBeGreaterThan(archive.length / 2);
  });

  it('refuses to export an unknown name (NOT_FOUND), no names or a malformed platform (INVALID_ARGUMENT)', async () => {
    await expect(exportAll(client, 'a', { names: ['docker.io/library/nope:1'] })).rejects.toMatchObject({ code: status.NOT_FOUND });
    await expect(exportAll(client, 'a', { names: [NAME, 'docker.io/library/nope:1'] })).rejects.toMatchObject({ code: status.NOT_FOUND });
    await expect(exportAll(client, 'a', { names: [] })).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    await expect(exportAll(client, 'a', { names: [NAME], platform: 'not a platform' })).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    await expect(exportAll(client, 'nons', { names: [NAME] })).rejects.toMatchObject({ code: status.NOT_FOUND });
  });

  it('export of an image whose blobs are gone is FAILED_PRECONDITION', async () => {
    await importChunks(client, 'c', [archive]);
    const img = daemon.stores.images.get('c', NAME);
    daemon.stores.content.delete('c', img.target!.digest);
    await expect(exportAll(client, 'c', { names: [NAME] })).rejects.toMatchObject({ code: status.FAILED_PRECONDITION });
  });

  it('refuses garbage bytes, an unknown snapshotter or a malformed platform with INVALID_ARGUMENT and keeps nothing', async () => {
    const garbage = Buffer.alloc(64 * 1024, 'not a tar archive, not gzip either ');
    await expect(importChunks(client, 'g', split(garbage, 10_000))).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    await expect(importChunks(client, 'g', [Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7])])).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    await expect(importChunks(client, 'g', [])).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    await expect(importChunks(client, 'g', [archive], { unpack: true, snapshotter: 'zfs' })).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: expect.stringMatching(/snapshotter/),
    });
    await expect(importChunks(client, 'g', [archive], { unpack: true, platform: 'linux' })).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: expect.stringMatching(/platform/),
    });
    expect(daemon.stores.images.list('g')).toEqual([]);
    await daemon.stores.collectGarbage('g');
    expect(daemon.stores.content.list('g', [])).toEqual([]);
    expect(daemon.stores.leases.list('g')).toEqual([]);
  });

  it('a client that cancels mid-stream leaves no image and, after GC, no content, ingest or lease', async () => {
    const chunks = split(archive, 64 * 1024);
    expect(chunks.length).toBeGreaterThan(4);
    const err = await new Promise<ServiceError>((resolve) => {
      const call = client.import(namespaceMetadata('x'), (e: ServiceError | null) => resolve(e!));
      call.write(archives.ImportRequest.fromPartial({ unpack: true, data: chunks[0] }));
      call.write(archives.ImportRequest.fromPartial({ data: chunks[1] }));
      // once the daemon is half-way through writing a blob under the import lease, go away
      const poll = setInterval(() => {
        if (daemon.stores.leases.list('x').length > 0 && daemon.stores.content.listStatuses('x', []).length > 0) {
          clearInterval(poll);
          call.cancel();
        }
      }, 5);
    });
    expect(err.code).toBe(status.CANCELLED);
    // the importer notices, fails on the truncated archive and removes its lease
    const deadline = Date.now() + 10_000;
    while (daemon.stores.leases.list('x').length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(daemon.stores.leases.list('x')).toEqual([]);
    expect(daemon.stores.images.list('x')).toEqual([]);
    await daemon.stores.collectGarbage('x');
    expect(daemon.stores.content.list('x', [])).toEqual([]);
    expect(daemon.stores.content.listStatuses('x', [])).toEqual([]);
    expect(overlay().list('x', [])).toEqual([]);
  });
});
