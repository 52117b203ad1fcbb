/**
 * Pull under faults, through a proxy before a real docker-registry: a connection dropped in the
 * middle of a layer (retried, succeeds), 503/429 answers (retried), a layer whose bytes do not
 * match its digest (clear error, no image record, no lease left), and an index with no manifest
 * for this platform (clear error).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { clientOn, content, diff, images, leases as leasesApi, snapshots, unixChannel, type leases } from '@gantry/api';
import { ContainerdStore, RegistryClient, RegistryError, type JsonMessage, type StoreClients } from '../src';
import { RegistryProxy } from './fake-registry';
import { busyboxArchive, needRegistry, TestContainerd, LocalRegistry } from './helpers';
import { describeIf, needRoot } from '@gantry/testkit';

const d = describeIf(needRoot(), needRegistry());

d('pull faults', () => {
  let dir: string;
  let cd: TestContainerd;
  let reg: LocalRegistry;
  let proxy: RegistryProxy;
  let layer: { digest: string; size: number };
  let manifest: { digest: string; size: number; mediaType: string };
  let n = 0;
  const client = new RegistryClient({ retryDelayMs: 20 });

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gregf-'));
    cd = new TestContainerd(dir);
    await cd.start();
    const loaded = await cd.load('src', busyboxArchive(dir, 'gantry/busybox:f'));
    reg = await LocalRegistry.start(path.join(dir, 'reg'));
    const store = cd.store('src');
    const t = loaded.images[0]!.target!;
    await store.putImage(`${reg.host}/f/busybox:v1`, { mediaType: t.mediaType, digest: t.digest, size: Number(t.size) });
    await client.push(store, `${reg.host}/f/busybox:v1`);
    const doc = JSON.parse((await store.readAll(t.digest)).toString()) as { layers: { digest: string; size: number }[] };
    layer = doc.layers[0]!;
    manifest = { digest: t.digest, size: Number(t.size), mediaType: t.mediaType };
    proxy = new RegistryProxy(reg.host);
    await proxy.start();
  }, 60000);

  afterEach(() => {
    proxy.intercept = undefined;
    proxy.rewrite = undefined;
  });

  afterAll(async () => {
    client.close();
    await proxy?.close();
    await reg?.stop();
    await cd?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const fresh = () => cd.store(`ns${++n}`);
  const name = () => `${proxy.host}/f/busybox:v1`;
  const leasesOf = async (store: ReturnType<typeof fresh>) => {
    const c = store.clients.leases;
    return (await store.call<leases.ListRequest, leases.ListResponse>(c, c.list, { filters: [] })).leases;
  };

  it('a connection dropped mid-layer is retried and the pull succeeds', async () => {
    let cut = 0;
    proxy.intercept = (req, res) => {
      if (req.method !== 'GET' || !req.url?.endsWith(`/blobs/${layer.digest}`) || cut > 0) return false;
      cut++;
      const file = path.join(reg.dir, 'data/docker/registry/v2/blobs/sha256', layer.digest.slice(7, 9), layer.digest.slice(7), 'data');
      const bytes = fs.readFileSync(file);
      res.writeHead(200, { 'Content-Length': String(bytes.length), 'Content-Type': 'application/octet-stream' });
      res.write(bytes.subarray(0, bytes.length >> 1), () => res.socket?.destroy());
      return true;
    };
    const store = fresh();
    const msgs: JsonMessage[] = [];
    const r = await client.pull(store, name(), { progress: (m) => msgs.push(m) });
    expect(cut).toBe(1);
    expect(r.digest).toBe(manifest.digest);
    expect(msgs.some((m) => m.status?.startsWith('Retrying'))).toBe(true);
    expect(proxy.requests.filter((x) => x === `GET /v2/f/busybox/blobs/${layer.digest}`).length).toBeGreaterThanOrEqual(2);
    expect(await store.getImage(name())).toBeDefined();
    expect(await store.ingests()).toEqual([]); // the broken attempt's ingest was dropped
  });

  it('503 and 429 answers are retried', async () => {
    let fails = 0;
    proxy.intercept = (req, res) => {
      if (!req.url?.includes('/manifests/') || fails >= 2) return false;
      fails++;
      res.writeHead(fails === 1 ? 503 : 429, { 'Retry-After': '0', 'Content-Type': 'application/json' });
      res.end('{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}');
      return true;
    };
    const r = await client.pull(fresh(), name());
    expect(fails).toBe(2);
    expect(r.digest).toBe(manifest.digest);
  });

  it('a layer that does not match its digest fails clearly and leaves no image nor lease', async () => {
    proxy.rewrite = (p, body) => {
      if (!p.endsWith(`/blobs/${layer.digest}`)) return undefined;
      const copy = Buffer.from(body);
      copy[copy.length >> 1] ^= 0xff;
      return copy;
    };
    const store = fresh();
    const err = await client.pull(store, name()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as RegistryError).kind).toBe('digest');
    expect((err as Error).message).toMatch(new RegExp(`^filesystem layer verification failed for digest ${layer.digest}: got sha256:[0-9a-f]{64}$`));
    expect(await store.getImage(name())).toBeUndefined();
    expect(await leasesOf(store)).toEqual([]);
    expect(await store.info(layer.digest)).toBeUndefined();
    expect(await store.ingests()).toEqual([]);
  });

  it('an index with only another platform is a clear error; a platform override pulls it', async () => {
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [{ mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.size, platform: { os: 'linux', architecture: 's390x' } }],
      }),
    );
    proxy.intercept = (req, res) => {
      if (!req.url?.endsWith('/manifests/multi')) return false;
      res.writeHead(200, { 'Content-Type': 'application/vnd.oci.image.index.v1+json', 'Content-Length': String(index.length) });
      res.end(req.method === 'HEAD' ? undefined : index);
      return true;
    };
    const store = fresh();
    const err = await client.pull(store, `${proxy.host}/f/busybox:multi`).catch((e: unknown) => e);
    expect((err as RegistryError).kind).toBe('platform');
    expect((err as Error).message).toBe('no matching manifest for linux/amd64 in the manifest list entries');
    expect(await store.getImage(`${proxy.host}/f/busybox:multi`)).toBeUndefined();
    // asking for that platform finds the entry (the blobs are amd64 busybox, which does not matter here)
    const r = await client.pull(store, `${proxy.host}/f/busybox:multi`, { platform: { os: 'linux', architecture: 's390x' } }).catch((e: unknown) => e);
    // the config says amd64: accepted because the index said s390x (as Docker trusts the index)
    expect((r as { digest?: string }).digest).toBe(`sha256:${createHash('sha256').update(index).digest('hex')}`);
  });

  it('big blobs are pushed in PATCH chunks; the pushed image pulls back identical', async () => {
    const store = cd.store('src');
    const target = `${proxy.host}/f/chunked:v1`;
    await store.putImage(target, manifest);
    const before = proxy.requests.length;
    const pushed = await client.push(store, target, { chunkSize: 64 * 1024 });
    const reqs = proxy.requests.slice(before);
    const patches = reqs.filter((r) => r.startsWith('PATCH /v2/f/chunked/blobs/uploads/'));
    expect(patches.length).toBeGreaterThan(1);
    expect(reqs.some((r) => r.startsWith('PUT /v2/f/chunked/blobs/uploads/') && r.includes('digest=sha256'))).toBe(true);
    expect(pushed.digest).toBe(manifest.digest);
    const r = await client.pull(fresh(), target);
    expect(r.digest).toBe(manifest.digest);
  });

  it('a cancelled pull (stalled layer) stops at once and leaves no image nor lease', async () => {
    const stalled: import('node:http').ServerResponse[] = [];
    proxy.intercept = (req, res) => {
      if (req.method !== 'GET' || !req.url?.endsWith(`/blobs/${layer.digest}`)) return false;
      res.writeHead(200, { 'Content-Length': String(layer.size), 'Content-Type': 'application/octet-stream' });
      res.write(Buffer.alloc(1024)); // then nothing more
      stalled.push(res);
      return true;
    };
    const store = fresh();
    const ac = new AbortController();
    const msgs: JsonMessage[] = [];
    const pulling = client.pull(store, name(), { signal: ac.signal, progress: (m) => msgs.push(m) }).catch((e: unknown) => e);
    const deadline = Date.now() + 20000;
    while (!msgs.some((m) => m.status === 'Downloading') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    ac.abort();
    const err = await pulling;
    expect((err as RegistryError).kind).toBe('cancelled');
    expect(await store.getImage(name())).toBeUndefined();
    expect(await leasesOf(store)).toEqual([]);
    expect(await store.ingests()).toEqual([]);
    for (const r of stalled) r.destroy();
  });

  it("a single-platform image pulled with another --platform is refused with Docker's message", async () => {
    const store = fresh();
    const err = await client.pull(store, name(), { platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } }).catch((e: unknown) => e);
    expect((err as RegistryError).kind).toBe('platform');
    expect((err as Error).message).toBe(
      `image with reference ${proxy.host}/f/busybox:v1 was found but its platform (linux/amd64) does not match the specified platform (linux/arm64/v8)`,
    );
    expect(await store.getImage(name())).toBeUndefined();
  });
});

d('store calls while gantry-containerd restarts', () => {
  it('a call made while the daemon is down waits for it (instead of failing UNAVAILABLE at once)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gregr-'));
    const cd = new TestContainerd(dir);
    const channel = unixChannel(cd.socket);
    try {
      const clients: StoreClients = {
        content: clientOn(content.ContentClient, channel),
        images: clientOn(images.ImagesClient, channel),
        leases: clientOn(leasesApi.LeasesClient, channel),
        snapshots: clientOn(snapshots.SnapshotsClient, channel),
        diff: clientOn(diff.DiffClient, channel),
      };
      const store = new ContainerdStore(clients, 'restarting');
      // nothing listens on the socket yet: the call is queued, not failed
      const lease = store.createLease('while-down');
      let settled = false;
      void lease.then(
        () => (settled = true),
        () => (settled = true),
      );
      await new Promise((r) => setImmediate(r));
      expect(settled).toBe(false);
      await cd.start();
      await expect(lease).resolves.toBe('while-down');
      await store.deleteLease('while-down');
    } finally {
      channel.close();
      await cd.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60000);
});
