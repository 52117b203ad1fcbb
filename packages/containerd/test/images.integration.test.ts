/**
 * Image storage end to end, in-process: archives made by skopeo (a tool no one here wrote) are
 * imported into the daemon's stores, unpacked into overlayfs snapshots, run through the Tasks API,
 * exported again and read back by skopeo; garbage collection keeps shared layers; bad archives
 * leave nothing behind.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { callMetadata, containers, snapshots, tasks, unaryCall, type UnaryMethod } from '@gantry/api';
import { linuxSys } from '@gantry/linux';
import { applyLayer } from '../src/diff';
import { exportImages } from '../src/images/archive-export';
import { importArchive } from '../src/images/archive-import';
import { type Descriptor } from '@gantry/oci';
import { readImage, resolveManifest } from '../src/images/manifest';
import { hostPlatform } from '@gantry/oci';
import { unpackImage } from '../src/images/unpack';
import { Logger } from '@gantry/linux';
import { startDaemon, type Daemon } from '../src/server';
import { SPEC_TYPE } from '../src/services/tasks';
import { busyboxArchive, describeIf, needRoot, needTool } from '@gantry/testkit';

const d = describeIf(needRoot(), needTool('skopeo'));
const NS = 'img';

function call<Req, Res>(client: object, fn: UnaryMethod<Req, Res>, req: Req): Promise<Res> {
  return unaryCall(client, fn, req, callMetadata({ namespace: NS }));
}

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

d('image storage with archives from skopeo (root)', () => {
  let dir: string;
  let daemon: Daemon;
  let toolArchive: string;
  const addr = () => `unix://${path.join(dir, 'c.sock')}`;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gimg-'));
    toolArchive = path.join(dir, 'tool.tar');
    busyboxArchive(toolArchive, 'gantry/busybox:tool', { bundle: path.join(dir, 'bundle') });
    daemon = await startDaemon({ address: path.join(dir, 'c.sock'), root: path.join(dir, 'root'), state: path.join(dir, 'state'), log: new Logger('error') });
  }, 60000);

  afterAll(async () => {
    await daemon?.close();
    spawnSync('sh', ['-c', `grep -o " ${dir}[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l`]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const stores = () => daemon.stores;
  const overlay = () => stores().snapshotters.get('overlayfs')!;

  async function unpack(name: string): Promise<string> {
    const img = stores().images.get(NS, name);
    const target: Descriptor = { mediaType: img.target!.mediaType, digest: img.target!.digest, size: Number(img.target!.size) };
    const { manifest } = await resolveManifest(stores().content, NS, target, hostPlatform());
    const { config } = await readImage(stores().content, NS, manifest);
    return unpackImage({ content: stores().content, snapshotter: overlay(), sys: linuxSys(), applyLayer: (s, t) => applyLayer(s, t) }, NS, manifest, config);
  }

  it('imports an OCI archive written by skopeo, unpacks it, runs a container on it through Tasks and exports it so skopeo reads it back', async () => {
    const ociArchive = path.join(dir, 'skopeo-oci.tar');
    run('skopeo', ['copy', '--quiet', `docker-archive:${toolArchive}`, `oci-archive:${ociArchive}:busybox:skopeo`]);
    const imported = await importArchive(stores(), NS, fs.createReadStream(ociArchive));
    expect(imported.map((i) => i.name)).toEqual(['docker.io/library/busybox:skopeo']);
    const chainId = await unpack('docker.io/library/busybox:skopeo');
    expect(overlay().stat(NS, chainId).kind).toBe('committed');

    // a container on that image, through the gRPC API as a client would do it
    const snaps = new snapshots.SnapshotsClient(addr(), credentials.createInsecure());
    const ctrs = new containers.ContainersClient(addr(), credentials.createInsecure());
    const tsk = new tasks.TasksClient(addr(), credentials.createInsecure());
    try {
      const prepared = await call(
        snaps,
        snaps.prepare,
        snapshots.PrepareSnapshotRequest.fromPartial({ snapshotter: 'overlayfs', key: 'c1-rw', parent: chainId }),
      );
      const spec = JSON.parse(fs.readFileSync(path.join(dir, 'bundle', 'config.json'), 'utf8'));
      spec.root = { path: 'rootfs', readonly: false };
      spec.process.args = ['sh', '-c', 'head -n1 /etc/passwd; echo written > /new-file; cat /new-file'];
      await call(ctrs, ctrs.create, {
        container: containers.Container.fromPartial({
          id: 'c1',
          image: 'docker.io/library/busybox:skopeo',
          runtime: { name: 'io.containerd.gantry.v1' },
          spec: { typeUrl: SPEC_TYPE, value: Buffer.from(JSON.stringify(spec)) },
          snapshotter: 'overlayfs',
          snapshotKey: 'c1-rw',
        }),
      });
      const fifo = path.join(dir, 'out');
      spawnSync('mkfifo', [fifo]);
      const sock = new net.Socket({ fd: fs.openSync(fifo, fs.constants.O_RDWR | fs.constants.O_NONBLOCK), readable: true, writable: false });
      let out = '';
      sock.on('data', (b: Buffer) => (out += b.toString()));
      await call(tsk, tsk.create, tasks.CreateTaskRequest.fromPartial({ containerId: 'c1', rootfs: prepared.mounts, stdout: fifo }));
      await call(tsk, tsk.start, { containerId: 'c1', execId: '' });
      expect((await call(tsk, tsk.wait, { containerId: 'c1', execId: '' })).exitStatus).toBe(0);
      const deadline = Date.now() + 5000;
      while (!out.includes('written') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(out).toBe('root:x:0:0:root:/root:/bin/sh\nwritten\n');
      sock.destroy();
      await call(tsk, tsk.delete, { containerId: 'c1' });
      await call(ctrs, ctrs.delete, { id: 'c1' });
      await call(snaps, snaps.remove, { snapshotter: 'overlayfs', key: 'c1-rw' });
    } finally {
      snaps.close();
      ctrs.close();
      tsk.close();
    }

    const exported = path.join(dir, 'export.tar');
    const outStream = fs.createWriteStream(exported);
    await exportImages(stores(), NS, ['docker.io/library/busybox:skopeo'], outStream);
    await new Promise<void>((r) => outStream.end(r));
    const viaOci = JSON.parse(run('skopeo', ['inspect', `oci-archive:${exported}`])) as { Layers: string[]; Architecture: string };
    const viaDocker = JSON.parse(run('skopeo', ['inspect', `docker-archive:${exported}`])) as { Layers: string[]; RepoTags: string[] };
    const original = JSON.parse(run('skopeo', ['inspect', `oci-archive:${ociArchive}`])) as { Layers: string[] };
    expect(viaOci.Layers).toEqual(original.Layers);
    expect(viaOci.Architecture).toBe('amd64');
    expect(viaDocker.Layers.length).toBe(1);
  });

  it('imports a docker-archive written by skopeo', async () => {
    const dockerArchive = path.join(dir, 'skopeo-docker.tar');
    run('skopeo', ['copy', '--quiet', `docker-archive:${toolArchive}`, `docker-archive:${dockerArchive}:sk/busybox:v1`]);
    const imported = await importArchive(stores(), NS, fs.createReadStream(dockerArchive));
    expect(imported.map((i) => i.name)).toEqual(['docker.io/sk/busybox:v1']);
    const chainId = await unpack('docker.io/sk/busybox:v1');
    expect(fs.existsSync(path.join(dir, 'root'))).toBe(true);
    expect(overlay().stat(NS, chainId).kind).toBe('committed');
  });

  it('garbage collection after removing an image frees its unique blobs and snapshots and keeps shared ones', async () => {
    // image B = the tool's layer + one more layer, built by hand as a docker-archive
    const work = path.join(dir, 'two');
    fs.mkdirSync(path.join(work, 'extra'), { recursive: true });
    run('tar', ['-xf', toolArchive, '-C', work]);
    const toolManifest = JSON.parse(fs.readFileSync(path.join(work, 'manifest.json'), 'utf8')) as { Config: string; Layers: string[] }[];
    const baseLayer = toolManifest[0]!.Layers[0]!;
    fs.writeFileSync(path.join(work, 'extra', 'hello.txt'), 'hello\n');
    run('tar', ['-C', path.join(work, 'extra'), '-cf', path.join(work, 'extra.tar'), 'hello.txt']);
    const baseDiff = sha(fs.readFileSync(path.join(work, baseLayer)));
    const extraDiff = sha(fs.readFileSync(path.join(work, 'extra.tar')));
    const config = { architecture: 'amd64', os: 'linux', config: { Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: [baseDiff, extraDiff] } };
    fs.writeFileSync(path.join(work, 'cfg.json'), JSON.stringify(config));
    fs.writeFileSync(path.join(work, 'manifest.json'), JSON.stringify([{ Config: 'cfg.json', RepoTags: ['two:latest'], Layers: [baseLayer, 'extra.tar'] }]));
    const twoArchive = path.join(dir, 'two.tar');
    run('tar', ['-C', work, '-cf', twoArchive, 'manifest.json', 'cfg.json', baseLayer, 'extra.tar']);

    await importArchive(stores(), NS, fs.createReadStream(toolArchive));
    await importArchive(stores(), NS, fs.createReadStream(twoArchive));
    const topA = await unpack('docker.io/gantry/busybox:tool');
    const topB = await unpack('docker.io/library/two:latest');
    expect(overlay().stat(NS, topB).parent).toBe(topA); // the base layer's snapshot is shared

    const digestsOf = (name: string) => {
      const img = stores().images.get(NS, name);
      return img.target!.digest;
    };
    const manifestA = digestsOf('docker.io/gantry/busybox:tool');
    stores().images.delete(NS, 'docker.io/gantry/busybox:tool');
    // the other images of earlier tests hold the same base: remove them too, so only B holds it
    for (const other of ['docker.io/library/busybox:skopeo', 'docker.io/sk/busybox:v1']) stores().images.delete(NS, other);
    await stores().collectGarbage(NS);
    const left = new Set(
      stores()
        .content.list(NS, [])
        .map((i) => i.digest),
    );
    expect(left.has(manifestA)).toBe(false);
    expect(left.has(digestsOf('docker.io/library/two:latest'))).toBe(true);
    expect(left.has(baseDiff)).toBe(true); // the shared layer blob (uncompressed: digest = diffID)
    const snapNames = overlay()
      .list(NS, [])
      .map((s) => s.name)
      .sort();
    expect(snapNames).toEqual([topA, topB].sort()); // B's chain: shared base + its own top

    stores().images.delete(NS, 'docker.io/library/two:latest');
    await stores().collectGarbage(NS);
    expect(stores().content.list(NS, [])).toEqual([]);
    expect(overlay().list(NS, [])).toEqual([]);
  });

  it('refuses an archive whose manifest references a missing blob, or an unknown media type, and keeps nothing', async () => {
    const work = path.join(dir, 'bad');
    fs.mkdirSync(work, { recursive: true });
    const layer = Buffer.from('not really a layer');
    fs.writeFileSync(path.join(work, 'cfg.json'), JSON.stringify({ rootfs: { type: 'layers', diff_ids: [sha(layer)] } }));
    fs.writeFileSync(path.join(work, 'manifest.json'), JSON.stringify([{ Config: 'cfg.json', RepoTags: ['bad:1'], Layers: ['missing/layer.tar'] }]));
    const badArchive = path.join(dir, 'bad.tar');
    run('tar', ['-C', work, '-cf', badArchive, 'manifest.json', 'cfg.json']);
    await expect(importArchive(stores(), NS, fs.createReadStream(badArchive))).rejects.toMatchObject({
      kind: 'failed-precondition', // FAILED_PRECONDITION over gRPC
      message: expect.stringMatching(/missing layer/),
    });
    expect(() => stores().images.get(NS, 'docker.io/library/bad:1')).toThrow(/not found/);

    // an OCI layout whose manifest has a media type nobody knows
    const oci = path.join(dir, 'badoci');
    fs.mkdirSync(path.join(oci, 'blobs', 'sha256'), { recursive: true });
    const m = Buffer.from('{}');
    fs.writeFileSync(path.join(oci, 'blobs', 'sha256', sha(m).slice(7)), m);
    fs.writeFileSync(path.join(oci, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    fs.writeFileSync(
      path.join(oci, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [
          { mediaType: 'application/x-bogus', digest: sha(m), size: m.length, annotations: { 'io.containerd.image.name': 'docker.io/library/bogus:1' } },
        ],
      }),
    );
    const badOci = path.join(dir, 'badoci.tar');
    run('tar', ['-C', oci, '-cf', badOci, 'oci-layout', 'index.json', 'blobs']);
    await expect(importArchive(stores(), NS, fs.createReadStream(badOci))).rejects.toMatchObject({
      kind: 'invalid-argument', // INVALID_ARGUMENT over gRPC
      message: expect.stringMatching(/unknown media type/),
    });
    expect(
      stores()
        .images.list(NS)
        .map((i) => i.name),
    ).not.toContain('docker.io/library/bogus:1');
    expect(stores().content.list(NS, [])).toEqual([]); // what the failed imports wrote was collected
  });
});
