/**
 * CRI ImageService on gantry-containerd: a local docker-registry stands in for docker.io through
 * the config file's registry mirror; pull, status, list, a container from the pulled image, remove,
 * and a pull of a missing image.
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { cri } from '@gantry/api';
import { describeIf, LocalRegistry, needRegistry, needRoot, needTool } from '@gantry/testkit';
import { CriHarness } from '../src/cri';
import { bundleTool } from '../src/paths';

jest.setTimeout(180_000);

describeIf(
  needRoot(),
  needTool('ctr', 'containerd'),
  needTool('skopeo'),
  needRegistry(),
)('CRI images through a registry mirror', () => {
  let reg: LocalRegistry;
  let h: CriHarness;
  const dir = `/tmp/cri-images-e2e-${process.pid}`;
  const IMAGE = 'docker.io/library/mirrored:v1';

  beforeAll(async () => {
    reg = await LocalRegistry.start(join(dir, 'registry'));
    // the busybox archive, pushed as library/mirrored:v1 to the local registry
    const tar = join(dir, 'mirrored.tar');
    const made = spawnSync('bash', [bundleTool, join(dir, 'bb'), '--docker-archive', tar, '--name', IMAGE, '--', 'sh'], { encoding: 'utf8' });
    if (made.status !== 0) throw new Error(`make-busybox-bundle failed: ${made.stderr}`);
    const pushed = spawnSync('skopeo', ['copy', '--dest-tls-verify=false', `docker-archive:${tar}`, `docker://${reg.host}/library/mirrored:v1`], {
      encoding: 'utf8',
    });
    if (pushed.status !== 0) throw new Error(`skopeo copy failed: ${pushed.stderr}`);
    h = new CriHarness({ bridge: 'gcri-img0', subnet: '10.211.8', mirrors: [`http://${reg.host}`] });
    await h.start(false);
  });
  afterAll(async () => {
    await h?.stop();
    await reg?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('pull through the mirror, status, list, run a container of it, remove', async () => {
    const before = await h.call(h.images, h.images.imageStatus, cri.ImageStatusRequest.fromPartial({ image: { image: 'mirrored:v1' } }));
    expect(before.image).toBeUndefined();

    const pulled = await h.call(h.images, h.images.pullImage, cri.PullImageRequest.fromPartial({ image: { image: 'mirrored:v1' } }));
    expect(pulled.imageRef).toMatch(/^sha256:[0-9a-f]{64}$/);
    const st = await h.call(h.images, h.images.imageStatus, cri.ImageStatusRequest.fromPartial({ image: { image: 'mirrored:v1' } }));
    expect(st.image).toMatchObject({ id: pulled.imageRef, repoTags: [IMAGE] });
    expect(st.image?.repoDigests[0]).toMatch(/^docker\.io\/library\/mirrored@sha256:/);
    expect(st.image?.size).toBeGreaterThan(0n);
    const byId = await h.call(h.images, h.images.imageStatus, cri.ImageStatusRequest.fromPartial({ image: { image: pulled.imageRef } }));
    expect(byId.image?.id).toBe(pulled.imageRef);
    const list = await h.call(h.images, h.images.listImages, cri.ListImagesRequest.fromPartial({}));
    expect(list.images.map((i) => i.id)).toContain(pulled.imageRef);
    const fs = await h.call(h.images, h.images.imageFsInfo, {});
    expect(fs.imageFilesystems[0]?.usedBytes?.value).toBeGreaterThan(0n);

    const pod = await h.runPod('img');
    try {
      const id = await h.runContainer(pod, 'c', 'sleep 1000', { image: cri.ImageSpec.fromPartial({ image: 'mirrored:v1' }) });
      const r = await h.call(h.runtime, h.runtime.execSync, cri.ExecSyncRequest.fromPartial({ containerId: id, cmd: ['echo', 'from-mirror'], timeout: 5n }));
      expect(r.stdout.toString()).toBe('from-mirror\n');
    } finally {
      await h.removePod(pod.id);
    }

    await h.call(h.images, h.images.removeImage, cri.RemoveImageRequest.fromPartial({ image: { image: pulled.imageRef } }));
    const gone = await h.call(h.images, h.images.imageStatus, cri.ImageStatusRequest.fromPartial({ image: { image: 'mirrored:v1' } }));
    expect(gone.image).toBeUndefined();
    // removing it again succeeds (kubelet's contract)
    await h.call(h.images, h.images.removeImage, cri.RemoveImageRequest.fromPartial({ image: { image: IMAGE } }));
  });

  test('a pull of a missing image is NOT_FOUND, with the reference in the message', async () => {
    const err = await h.call(h.images, h.images.pullImage, cri.PullImageRequest.fromPartial({ image: { image: 'docker.io/library/nosuch:v9' } })).then(
      () => undefined,
      (e: { code: number; details: string }) => e,
    );
    expect(err?.code).toBe(5);
    expect(err?.details).toContain('nosuch');
  });
});
