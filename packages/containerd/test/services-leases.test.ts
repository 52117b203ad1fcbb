/**
 * containerd.services.leases.v1.Leases through the generated LeasesClient, and Debian's real `ctr
 * leases create/ls/rm` against it: ids given or generated, list filters, resources, the GC hook on
 * delete, and the `containerd.io/gc.expire` label (an expired lease protects nothing).
 */
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { credentials, Metadata, Server, ServerCredentials, status } from '@grpc/grpc-js';
import { leases, namespaceMetadata } from '@gantry/api';
import { EXPIRE_LABEL, LeaseStore } from '../src/leases/store';
import { NamespaceStore } from '../src/metadata/namespaces';
import { leasesService } from '../src/services/leases';
import { describeIfTool, rpc, startHarness, type Harness } from './services-harness';

const run = promisify(execFile);

interface LeasesHarness {
  h: Harness;
  sock: string;
  store: LeaseStore;
  client: leases.LeasesClient;
  gcCalls: { ns: string; sync: boolean }[];
  close(): Promise<void>;
}

/** The services harness plus Leases served on a socket of its own (ctr leases needs nothing else). */
async function startLeases(): Promise<LeasesHarness> {
  const h = await startHarness();
  const store = new LeaseStore(h.ctx.store, new NamespaceStore(h.ctx.store));
  const gcCalls: { ns: string; sync: boolean }[] = [];
  const server = new Server();
  server.addService(
    leases.LeasesService,
    leasesService(h.ctx, store, {
      collectGarbage: async (ns, sync) => {
        gcCalls.push({ ns, sync });
      },
    }),
  );
  const sock = path.join(h.dir, 'leases.sock');
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${sock}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  const client = new leases.LeasesClient(`unix://${sock}`, credentials.createInsecure());
  return {
    h,
    sock,
    store,
    client,
    gcCalls,
    close: async () => {
      client.close();
      await new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => server.forceShutdown(), 1000).unref();
      });
      await h.close();
    },
  };
}

describe('Leases service', () => {
  let t: LeasesHarness;
  beforeAll(async () => {
    t = await startLeases();
  });
  afterAll(() => t?.close());

  const md = (ns: string) => namespaceMetadata(ns);
  const create = (ns: string, id: string, labels: Record<string, string> = {}) =>
    rpc<leases.CreateResponse>((cb) => t.client.create({ id, labels }, md(ns), cb)).then((r) => r.lease!);
  const list = (ns: string, ...filters: string[]) =>
    rpc<leases.ListResponse>((cb) => t.client.list({ filters }, md(ns), cb)).then((r) => r.leases.map((l) => l.id).sort());
  const del = (ns: string, id: string, sync = false) => rpc((cb) => t.client.delete({ id, sync }, md(ns), cb));
  const add = (ns: string, id: string, resource: leases.Resource) => rpc((cb) => t.client.addResource({ id, resource }, md(ns), cb));
  const remove = (ns: string, id: string, resource: leases.Resource) => rpc((cb) => t.client.deleteResource({ id, resource }, md(ns), cb));
  const resources = (ns: string, id: string) => rpc<leases.ListResourcesResponse>((cb) => t.client.listResources({ id }, md(ns), cb)).then((r) => r.resources);

  it('creates a lease with the id given, and with a generated one when none is', async () => {
    const before = Date.now();
    const named = await create('c', 'my-lease', { purpose: 'test' });
    expect(named).toMatchObject({ id: 'my-lease', labels: { purpose: 'test' } });
    expect(Number(named.createdAt!.seconds)).toBeGreaterThanOrEqual(Math.floor(before / 1000));
    const generated = await create('c', '');
    expect(generated.id).not.toBe('');
    expect(generated.id).not.toBe('my-lease');
    const other = await create('c', '');
    expect(other.id).not.toBe(generated.id);
    expect(await list('c')).toEqual(['my-lease', generated.id, other.id].sort());
    expect(await list('elsewhere')).toEqual([]); // namespaced
  });

  it('lists with filters on id and labels', async () => {
    await create('f', 'a1', { app: 'one', env: 'prod' });
    await create('f', 'a2', { app: 'two', env: 'prod' });
    await create('f', 'b1', { app: 'one' });
    expect(await list('f', 'id==a2')).toEqual(['a2']);
    expect(await list('f', 'id~=^a')).toEqual(['a1', 'a2']);
    expect(await list('f', 'labels.app==one')).toEqual(['a1', 'b1']);
    expect(await list('f', 'labels.app==one,labels.env==prod')).toEqual(['a1']);
    expect(await list('f', 'labels.env')).toEqual(['a1', 'a2']);
    expect(await list('f', 'id==b1', 'labels.app==two')).toEqual(['a2', 'b1']);
    await expect(list('f', 'id==')).rejects.toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringMatching(/invalid filter/) });
  });

  it('adds, lists and deletes resources (content, ingests, snapshots/<name>); a bad type is INVALID_ARGUMENT', async () => {
    await create('r', 'holder');
    const blob = { id: `sha256:${'c'.repeat(64)}`, type: 'content' };
    const ingest = { id: 'ingest-ref-1', type: 'ingests' };
    const snap = { id: 'sha256:chain', type: 'snapshots/overlayfs' };
    await add('r', 'holder', blob);
    await add('r', 'holder', ingest);
    await add('r', 'holder', snap);
    await add('r', 'holder', blob); // twice: held once
    expect(await resources('r', 'holder')).toEqual([blob, ingest, snap]);
    await remove('r', 'holder', ingest);
    expect(await resources('r', 'holder')).toEqual([blob, snap]);
    await remove('r', 'holder', { id: 'never-added', type: 'content' }); // nothing to remove: fine
    expect(await resources('r', 'holder')).toEqual([blob, snap]);

    for (const resource of [
      { id: 'x', type: 'containers' },
      { id: 'x', type: 'snapshots/' },
      { id: 'x', type: '' },
      { id: '', type: 'content' },
    ]) {
      await expect(add('r', 'holder', resource)).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    }
    await expect(rpc((cb) => t.client.addResource({ id: 'holder' }, md('r'), cb))).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: expect.stringMatching(/resource is required/),
    });
    await expect(add('r', 'no-such-lease', blob)).rejects.toMatchObject({ code: status.NOT_FOUND });
    await expect(resources('r', 'no-such-lease')).rejects.toMatchObject({ code: status.NOT_FOUND });
    expect(await resources('r', 'holder')).toEqual([blob, snap]);
    // what a live lease holds is a GC root
    expect(t.store.liveResources('r')).toEqual([blob, snap]);
  });

  it('deletes a lease (GC scheduled, or run first with sync); unknown ids are NOT_FOUND', async () => {
    await create('d', 'one');
    await create('d', 'two');
    t.gcCalls.length = 0;
    await del('d', 'one');
    await del('d', 'two', true);
    expect(t.gcCalls).toEqual([
      { ns: 'd', sync: false },
      { ns: 'd', sync: true },
    ]);
    expect(await list('d')).toEqual([]);
    await expect(del('d', 'one')).rejects.toMatchObject({ code: status.NOT_FOUND });
  });

  it('refuses duplicates, bad ids, bad labels and a bad expiry; and a call without a namespace', async () => {
    await create('e', 'dup');
    await expect(create('e', 'dup')).rejects.toMatchObject({ code: status.ALREADY_EXISTS });
    await expect(create('e', 'has space')).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    await expect(create('e', 'x'.repeat(300))).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    await expect(create('e', 'badlabel', { '': 'v' })).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    await expect(create('e', 'badexpiry', { [EXPIRE_LABEL]: 'tomorrow-ish' })).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: expect.stringMatching(/RFC 3339/),
    });
    await expect(rpc((cb) => t.client.list({ filters: [] }, new Metadata(), cb))).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: expect.stringMatching(/namespace is required/),
    });
    expect(await list('e')).toEqual(['dup']);
  });

  it('an expired lease (containerd.io/gc.expire in the past) stays listed but protects nothing', async () => {
    const past = new Date(Date.now() - 60_000).toISOString();
    const future = new Date(Date.now() + 3600_000).toISOString();
    const expired = await create('x', 'expired', { [EXPIRE_LABEL]: past });
    expect(expired.labels).toEqual({ [EXPIRE_LABEL]: past });
    await create('x', 'fresh', { [EXPIRE_LABEL]: future });
    await add('x', 'expired', { id: 'sha256:old', type: 'content' });
    await add('x', 'fresh', { id: 'sha256:new', type: 'content' });
    expect(await list('x')).toEqual(['expired', 'fresh']);
    expect(await list('x', `labels."${EXPIRE_LABEL}"`)).toEqual(['expired', 'fresh']);
    expect(t.store.liveResources('x')).toEqual([{ id: 'sha256:new', type: 'content' }]);
    // once the fresh one's time has come, neither protects anything
    expect(t.store.liveResources('x', new Date(Date.now() + 2 * 3600_000))).toEqual([]);
  });
});

describeIfTool('ctr', 'containerd')('ctr leases against the Leases service', () => {
  let t: LeasesHarness;
  beforeAll(async () => {
    t = await startLeases();
  });
  afterAll(() => t?.close());

  const ctr = async (...args: string[]): Promise<string> => {
    const { stdout } = await run('ctr', ['--address', t.sock, '--timeout', '10s', '-n', 'ctrns', ...args], { timeout: 20000 });
    return stdout;
  };
  const rows = (out: string) =>
    out
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/));

  it('ctr leases create (with --id and labels, and without), ls, ls with a filter, rm', async () => {
    expect((await ctr('leases', 'create', '--id', 'ctr-lease', 'team=gantry')).trim()).toBe('ctr-lease');
    const generated = (await ctr('leases', 'create', '--expires', '0')).trim();
    expect(generated).toMatch(/^\S+$/);
    expect(generated).not.toBe('ctr-lease');

    const ours = t.store.list('ctrns');
    const withId = ours.find((l) => l.id === 'ctr-lease')!;
    expect(withId.labels.team).toBe('gantry');
    // ctr's default expiry (24h) arrives as the gc.expire label, in RFC 3339
    const expire = Date.parse(withId.labels[EXPIRE_LABEL]!);
    expect(expire).toBeGreaterThan(Date.now() + 23 * 3600_000);
    expect(expire).toBeLessThan(Date.now() + 25 * 3600_000);
    expect(ours.find((l) => l.id === generated)!.labels).toEqual({}); // --expires 0: never

    const table = rows(await ctr('leases', 'ls'));
    expect(table[0]).toEqual(['ID', 'CREATED', 'AT', 'LABELS']);
    expect(
      table
        .slice(1)
        .map((r) => r[0])
        .sort(),
    ).toEqual(['ctr-lease', generated].sort());
    expect(table.find((r) => r[0] === 'ctr-lease')!.join(' ')).toMatch(/team=gantry/);
    expect(
      rows(await ctr('leases', 'ls', '-q'))
        .map((r) => r[0])
        .sort(),
    ).toEqual(['ctr-lease', generated].sort());
    expect(rows(await ctr('leases', 'ls', '-q', 'labels.team==gantry'))).toEqual([['ctr-lease']]);

    t.gcCalls.length = 0;
    await ctr('leases', 'rm', '--sync', 'ctr-lease');
    expect(t.gcCalls).toEqual([{ ns: 'ctrns', sync: true }]);
    await ctr('leases', 'rm', generated);
    expect((await ctr('leases', 'ls', '-q')).trim()).toBe('');
    await expect(ctr('leases', 'rm', 'ctr-lease')).rejects.toMatchObject({ stderr: expect.stringMatching(/not found/) });
  });
});
