/**
 * Interoperability with skopeo against the same docker-registry: what Gantry pushes, skopeo
 * reads (digest and raw manifest bytes equal); what skopeo copies in (an OCI manifest with
 * gzip layers it compressed itself), Gantry pulls and unpacks.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chainIds } from '@gantry/oci';
import { RegistryClient } from '../src';
import { busyboxArchive, needRegistry, run, TestContainerd, LocalRegistry } from './helpers';
import { describeIf, needRoot, needTool } from '@gantry/testkit';

const d = describeIf(needRoot(), needRegistry(), needTool('skopeo'));

d('skopeo interop', () => {
  let dir: string;
  let cd: TestContainerd;
  let reg: LocalRegistry;
  let archive: string;
  const client = new RegistryClient({ retryDelayMs: 20 });

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gregs-'));
    cd = new TestContainerd(dir);
    await cd.start();
    reg = await LocalRegistry.start(path.join(dir, 'reg'));
    archive = path.join(dir, 'bb.tar');
    fs.writeFileSync(archive, busyboxArchive(dir, 'gantry/busybox:sk'));
  }, 60000);

  afterAll(async () => {
    client.close();
    await reg?.stop();
    await cd?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('skopeo inspects what Gantry pushed: same digest, same manifest bytes', async () => {
    const loaded = await cd.load('a', fs.readFileSync(archive));
    const store = cd.store('a');
    const t = loaded.images[0]!.target!;
    const name = `${reg.host}/sk/pushed:v1`;
    await store.putImage(name, { mediaType: t.mediaType, digest: t.digest, size: Number(t.size) });
    const pushed = await client.push(store, name);
    const info = JSON.parse(run('skopeo', ['inspect', '--tls-verify=false', `docker://${name}`])) as { Digest: string; Layers: string[] };
    expect(info.Digest).toBe(pushed.digest);
    const raw = run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${name}`]);
    expect(Buffer.from(raw)).toEqual(await store.readAll(t.digest));
  });

  it('Gantry pulls an OCI image skopeo copied in, and unpacks it', async () => {
    const name = `${reg.host}/sk/copied:oci`;
    run('skopeo', ['copy', '--dest-tls-verify=false', '--format', 'oci', `docker-archive:${archive}`, `docker://${name}`]);
    const info = JSON.parse(run('skopeo', ['inspect', '--tls-verify=false', `docker://${name}`])) as { Digest: string };
    const raw = JSON.parse(run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${name}`])) as {
      mediaType: string;
      layers: { mediaType: string }[];
    };
    expect(raw.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(raw.layers[0]!.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+gzip');
    const store = cd.store('b');
    const r = await client.pull(store, name);
    expect(r.digest).toBe(info.Digest);
    expect(r.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    const cfg = JSON.parse((await store.readAll(r.id)).toString()) as { rootfs: { diff_ids: string[] } };
    expect(await store.snapshotExists(chainIds(cfg.rootfs.diff_ids).pop()!)).toBe(true);
  });
});
