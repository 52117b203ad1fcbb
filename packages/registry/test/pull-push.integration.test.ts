/**
 * Push and pull against Debian's docker-registry (distribution 2.8) with a gantry-containerd of
 * the test's own: no auth, htpasswd basic auth, and bearer tokens from a token server (through a
 * proxy that demands them). Root is needed (overlay snapshots).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { snapshots } from '@gantry/api';
import { chainIds } from '@gantry/oci';
import { RegistryClient, RegistryError, type JsonMessage } from '../src';
import { RegistryProxy, TokenServer } from './fake-registry';
import { busyboxArchive, needRegistry, removeImage, run, TestContainerd, LocalRegistry } from './helpers';
import { describeIf, needRoot } from '@gantry/testkit';

const d = describeIf(needRoot(), needRegistry());

const NS = 'reg';

d('pull and push against docker-registry', () => {
  let dir: string;
  let cd: TestContainerd;
  let plain: LocalRegistry;
  let basic: LocalRegistry;
  let tokens: TokenServer;
  let bearer: RegistryProxy;
  let localName: string;
  const clients: RegistryClient[] = [];
  const client = (opts: ConstructorParameters<typeof RegistryClient>[0] = {}) => {
    const c = new RegistryClient({ retryDelayMs: 50, ...opts });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'greg-'));
    cd = new TestContainerd(dir);
    await cd.start();
    const res = await cd.load(NS, busyboxArchive(dir, 'gantry/busybox:reg'));
    localName = res.images[0]!.name;
    plain = await LocalRegistry.start(path.join(dir, 'plain'));
    basic = await LocalRegistry.start(path.join(dir, 'basic'), { alice: 's3cret' });
    tokens = new TokenServer({ bob: 'hunter2' });
    await tokens.start();
    const backing = await LocalRegistry.start(path.join(dir, 'behind-token'));
    bearer = new RegistryProxy(backing.host, tokens);
    await bearer.start();
    (bearer as unknown as { backing: LocalRegistry }).backing = backing;
  }, 60000);

  afterAll(async () => {
    for (const c of clients) c.close();
    await bearer?.close();
    await (bearer as unknown as { backing?: LocalRegistry } | undefined)?.backing?.stop();
    await tokens?.close();
    await plain?.stop();
    await basic?.stop();
    await cd?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Tag the loaded busybox as `name` (a second record on the same target). */
  const tag = async (name: string) => {
    const img = await cd.store(NS).getImage(localName);
    await cd.store(NS).putImage(name, { mediaType: img!.target!.mediaType, digest: img!.target!.digest, size: Number(img!.target!.size) });
    return img!.target!.digest;
  };

  it('pushes to an anonymous registry, pulls back after rmi: same digest, layers unpacked, runnable', async () => {
    const name = `${plain.host}/test/busybox:v1`;
    const digest = await tag(name);
    const msgs: JsonMessage[] = [];
    const pushed = await client().push(cd.store(NS), name, { progress: (m) => msgs.push(m) });
    expect(pushed.digest).toBe(digest);
    const statuses = msgs.map((m) => m.status ?? '');
    expect(statuses[0]).toBe(`The push refers to repository [${plain.host}/test/busybox]`);
    expect(statuses).toContain('Preparing');
    expect(statuses).toContain('Pushed');
    expect(statuses).toContain(`v1: digest: ${digest} size: ${pushed.size}`);
    expect(msgs.find((m) => m.aux)?.aux).toEqual({ Tag: 'v1', Digest: digest, Size: pushed.size });

    // a second push finds every layer there already
    const again: JsonMessage[] = [];
    await client().push(cd.store(NS), name, { progress: (m) => again.push(m) });
    expect(again.map((m) => m.status)).toContain('Layer already exists');
    expect(again.map((m) => m.status)).not.toContain('Pushed');

    // remove it all locally (another namespace: the loaded original keeps its snapshots in NS)
    const ns2 = cd.store('reg2');
    const pullMsgs: JsonMessage[] = [];
    const pulled = await client().pull(ns2, name, { progress: (m) => pullMsgs.push(m) });
    expect(pulled.digest).toBe(digest);
    expect(pulled.name).toBe(name);
    expect(pulled.updated).toBe(true);
    const st = pullMsgs.map((m) => m.status);
    expect(st[0]).toBe('Pulling from test/busybox');
    for (const s of [
      'Pulling fs layer',
      'Downloading',
      'Verifying Checksum',
      'Download complete',
      'Extracting',
      'Pull complete',
      `Digest: ${digest}`,
      'Status: Downloaded newer image for 127.0.0.1:' + plain.port + '/test/busybox:v1',
    ]) {
      expect(st).toContain(s);
    }
    const layerMsg = pullMsgs.find((m) => m.status === 'Downloading')!;
    expect(layerMsg.id).toMatch(/^[0-9a-f]{12}$/);
    expect(layerMsg.progressDetail?.total).toBeGreaterThan(0);

    // the record, the snapshot chain (under GC) and the layer content are there
    const rec = await ns2.getImage(name);
    expect(rec?.target?.digest).toBe(digest);
    const cfg = JSON.parse((await ns2.readAll(pulled.id)).toString()) as { rootfs: { diff_ids: string[] } };
    const top = chainIds(cfg.rootfs.diff_ids).pop()!;
    expect(await ns2.snapshotExists(top)).toBe(true);

    // the unpacked rootfs runs: mount a view of the top snapshot and run its busybox
    const sc = ns2.clients.snapshots;
    const view = await ns2.call<snapshots.ViewSnapshotRequest, snapshots.ViewSnapshotResponse>(sc, sc.view, {
      snapshotter: 'overlayfs',
      key: 'test-view',
      parent: top,
      labels: {},
    });
    const mnt = fs.mkdtempSync(path.join(dir, 'mnt-'));
    const m = view.mounts[0]!;
    run('mount', ['-t', m.type, '-o', m.options.join(','), m.source, mnt]);
    try {
      expect(run('chroot', [mnt, '/bin/echo', 'hello from the pulled image']).trim()).toBe('hello from the pulled image');
    } finally {
      spawnSync('umount', [mnt]);
      await ns2.call(sc, sc.remove, { snapshotter: 'overlayfs', key: 'test-view' });
    }

    // pulling again: up to date, nothing downloaded
    const third: JsonMessage[] = [];
    const same = await client().pull(ns2, name, { progress: (x) => third.push(x) });
    expect(same.updated).toBe(false);
    expect(third.map((x) => x.status)).toContain('Already exists');
    expect(third.map((x) => x.status)).toContain(`Status: Image is up to date for ${plain.host}/test/busybox:v1`);

    // rmi + GC, then a pull by digest brings it back
    await removeImage(ns2, name);
    expect(await ns2.info(pulled.id)).toBeUndefined();
    const byDigest = await client().pull(ns2, `${plain.host}/test/busybox@${digest}`);
    expect(byDigest.digest).toBe(digest);
    expect(byDigest.name).toBe(`${plain.host}/test/busybox@${digest}`);
  });

  it('a pull that moves a tag keeps the image it took it from under the dangling name', async () => {
    const name = `${plain.host}/test/busybox:v1`; // pushed by the first test
    // image B: the loaded busybox with one more label (own config and manifest, same layer)
    const loaded = await cd.load('dang', busyboxArchive(dir, 'x/other:1'));
    const store = cd.store('dang');
    const a = loaded.images[0]!.target!;
    const manifestA = JSON.parse((await store.readAll(a.digest)).toString()) as { config: { digest: string; size: number }; layers: { digest: string }[] };
    const config = JSON.parse((await store.readAll(manifestA.config.digest)).toString()) as { config?: { Labels?: Record<string, string> } };
    config.config = { ...config.config, Labels: { variant: 'b' } };
    const configB = Buffer.from(JSON.stringify(config));
    const configDigest = `sha256:${createHash('sha256').update(configB).digest('hex')}`;
    await store.writeBlob({ digest: configDigest }, configB);
    const manifestB = Buffer.from(JSON.stringify({ ...manifestA, config: { ...manifestA.config, digest: configDigest, size: configB.length } }));
    const b = { mediaType: a.mediaType, digest: `sha256:${createHash('sha256').update(manifestB).digest('hex')}`, size: BigInt(manifestB.length) };
    await store.writeBlob({ digest: b.digest }, manifestB, {
      'containerd.io/gc.ref.content.config': configDigest,
      'containerd.io/gc.ref.content.l.0': manifestA.layers[0]!.digest,
    });
    await store.putImage(name, { mediaType: b.mediaType, digest: b.digest, size: Number(b.size) });
    const r = await client().pull(store, name, { danglingName: (d) => `dangling@${d}` });
    expect(r.previous?.digest).toBe(b.digest);
    expect(r.digest).not.toBe(b.digest);
    expect((await store.getImage(`dangling@${b.digest}`))?.target?.digest).toBe(b.digest);
    expect((await store.getImage(name))?.target?.digest).toBe(r.digest);
  });

  it("two pulls of the same image at once both succeed: the second to commit a layer takes the first one's snapshot", async () => {
    const name = `${plain.host}/test/busybox:v1`; // pushed by the first test
    const store = cd.store('twice');
    const [a, b] = await Promise.all([client().pull(store, name), client().pull(store, name)]);
    expect(b.digest).toBe(a.digest);
    expect((await store.getImage(name))?.target?.digest).toBe(a.digest);
    const cfg = JSON.parse((await store.readAll(a.id)).toString()) as { rootfs: { diff_ids: string[] } };
    const chain = chainIds(cfg.rootfs.diff_ids);
    for (const c of chain) expect(await store.snapshotExists(c)).toBe(true);
    // no extraction snapshot is left behind by the pull that lost the race
    const sc = store.clients.snapshots;
    const keys: string[] = [];
    for await (const r of sc.list({ snapshotter: 'overlayfs', filters: [] }, store.metadata()) as AsyncIterable<snapshots.ListSnapshotsResponse>)
      keys.push(...r.info.map((i) => i.name));
    expect(keys.sort()).toEqual([...chain].sort());
  });

  it('an unknown tag is a clear not-found error and leaves no record', async () => {
    const err = await client()
      .pull(cd.store('reg3'), `${plain.host}/test/busybox:nope`)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as RegistryError).kind).toBe('not-found');
    expect((err as Error).message).toBe(`manifest for ${plain.host}/test/busybox:nope not found: manifest unknown: manifest unknown`);
    expect(await cd.store('reg3').getImage(`${plain.host}/test/busybox:nope`)).toBeUndefined();
  });

  it('basic auth: push and pull with the right password; no or wrong credentials fail clearly', async () => {
    const name = `${basic.host}/private/busybox:b`;
    const digest = await tag(name);
    const good = client({ credentials: (h) => (h === basic.host ? { username: 'alice', password: 's3cret' } : undefined) });
    await good.login(basic.host);
    expect((await good.push(cd.store(NS), name)).digest).toBe(digest);
    expect((await good.pull(cd.store('basic2'), name)).digest).toBe(digest);

    const wrong = client({ credentials: () => ({ username: 'alice', password: 'wrong' }) });
    const loginErr = await wrong.login(basic.host).catch((e: unknown) => e);
    expect((loginErr as Error).message).toBe(`login attempt to http://${basic.host}/v2/ failed with status: 401 Unauthorized`);
    const pullErr = await wrong.pull(cd.store('basic3'), name).catch((e: unknown) => e);
    expect(pullErr).toBeInstanceOf(RegistryError);
    expect((pullErr as RegistryError).kind).toBe('auth');
    expect((pullErr as Error).message).toMatch(/unauthorized: authentication required/);
    expect(await cd.store('basic3').getImage(name)).toBeUndefined();

    const anon = await client()
      .pull(cd.store('basic3'), name)
      .catch((e: unknown) => e);
    expect((anon as Error).message).toBe('no basic auth credentials');
  });

  it('bearer tokens: anonymous pull tokens, credentialed push tokens, scoped and cached', async () => {
    const name = `${bearer.host}/team/busybox:t`;
    const digest = await tag(name);
    // anonymous callers get pull-only tokens: the push is refused
    const anonPush = await client()
      .push(cd.store(NS), name)
      .catch((e: unknown) => e);
    expect((anonPush as RegistryError).kind).toBe('auth');

    const bob = client({ credentials: () => ({ username: 'bob', password: 'hunter2' }) });
    await bob.push(cd.store(NS), name);
    expect(tokens.issued.some((t) => t.account === 'bob' && t.scope.includes('repository:team/busybox:pull,push'))).toBe(true);
    const issuedBefore = tokens.issued.length;

    const anon = client();
    const pulled = await anon.pull(cd.store('bear2'), name);
    expect(pulled.digest).toBe(digest);
    const anonTokens = tokens.issued.slice(issuedBefore);
    // one token for the repository, fetched once and reused for the manifest and every blob
    expect(anonTokens).toEqual([{ scope: ['repository:team/busybox:pull'] }]);

    // wrong password: the token server refuses, the error says so
    const mallory = client({ credentials: () => ({ username: 'bob', password: 'nope' }) });
    const err = await mallory.pull(cd.store('bear3'), name).catch((e: unknown) => e);
    expect((err as RegistryError).kind).toBe('auth');
    expect((err as Error).message).toContain('unauthorized: incorrect username or password');
    expect((err as Error).message).not.toContain('nope');

    // cross-repository mount: pushing the same image to another repository mounts the layers
    const other = `${bearer.host}/team/copy:t`;
    await tag(other);
    const msgs: JsonMessage[] = [];
    await bob.push(cd.store(NS), other, { progress: (m) => msgs.push(m) });
    expect(msgs.some((m) => m.status === 'Mounted from team/busybox')).toBe(true);
    expect(bearer.requests.some((r) => r.startsWith('POST /v2/team/copy/blobs/uploads/?mount=sha256%3A') && r.includes('from=team%2Fbusybox'))).toBe(true);
  });
});
