/**
 * The Snapshots gRPC service through a grpc-js server on a temp socket and the generated client:
 * the layer flow with real mounts, events, leases, List batches, and the status codes of bad calls.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { events, namespaceMetadata, snapshots, unpackAny, type types } from '@gantry/api';
import type { EventEnvelope } from '../src/events/exchange';
import type { MountSpec } from '@gantry/linux';
import { rpc } from './services-harness';
import { describeAsRoot, Mounts, mountedUnder, startSnapshotsServer, type SnapshotsServer } from './snapshots-harness';

const SN = 'overlayfs';

describeAsRoot('Snapshots service', () => {
  let s: SnapshotsServer;
  let mounts: Mounts;
  let seen: EventEnvelope[];
  let off: () => void;

  beforeEach(async () => {
    s = await startSnapshotsServer();
    mounts = new Mounts(s.dir);
    seen = [];
    off = s.ctx.exchange.subscribe(['topic~="^/snapshot/"'], (e) => seen.push(e));
  });

  afterEach(async () => {
    off();
    mounts.cleanup();
    const left = mountedUnder(s.dir);
    await s.close();
    expect(left).toEqual([]);
  });

  const md = (ns = 'default', lease?: string) => {
    const m = namespaceMetadata(ns);
    if (lease) m.set('containerd-lease', lease);
    return m;
  };
  const c = () => s.client;
  const prepare = (key: string, parent = '', m: Metadata = md(), labels: Record<string, string> = {}) =>
    rpc<snapshots.PrepareSnapshotResponse>((cb) => c().prepare({ snapshotter: SN, key, parent, labels }, m, cb));
  const view = (key: string, parent = '', m: Metadata = md()) =>
    rpc<snapshots.ViewSnapshotResponse>((cb) => c().view({ snapshotter: SN, key, parent, labels: {} }, m, cb));
  const commit = (name: string, key: string, m: Metadata = md(), labels: Record<string, string> = {}) =>
    rpc((cb) => c().commit({ snapshotter: SN, name, key, labels }, m, cb));
  const remove = (key: string, m: Metadata = md()) => rpc((cb) => c().remove({ snapshotter: SN, key }, m, cb));
  const stat = (key: string, m: Metadata = md()) => rpc<snapshots.StatSnapshotResponse>((cb) => c().stat({ snapshotter: SN, key }, m, cb));
  const usage = (key: string) => rpc<snapshots.UsageResponse>((cb) => c().usage({ snapshotter: SN, key }, md(), cb));
  const list = (filters: string[] = [], m: Metadata = md(), snapshotter = SN) =>
    new Promise<snapshots.ListSnapshotsResponse[]>((resolve, reject) => {
      const out: snapshots.ListSnapshotsResponse[] = [];
      const stream = c().list({ snapshotter, filters }, m);
      stream.on('data', (r: snapshots.ListSnapshotsResponse) => out.push(r));
      stream.on('error', reject);
      stream.on('end', () => resolve(out));
    });
  const names = async (filters: string[] = []) =>
    (await list(filters))
      .flatMap((r) => r.info)
      .map((i) => i.name)
      .sort();
  const code = (p: Promise<unknown>) =>
    p.then(
      () => 'ok',
      (e: ServiceError) => e.code,
    );
  const spec = (ms: types.Mount[]): MountSpec[] => ms.map((m) => ({ type: m.type, source: m.source, options: m.options }));

  test('base, commit, child on overlay, view of the chain, remove order, events', async () => {
    const base = await prepare('base-active', '', md(), { 'containerd.io/gc.root': 'x' });
    expect(base.mounts).toEqual([
      { type: 'bind', source: expect.stringMatching(/\/snapshots\/overlayfs\/snapshots\/1\/fs$/), target: '', options: ['rw', 'rbind'] },
    ]);
    const t = mounts.mount(spec(base.mounts));
    fs.writeFileSync(path.join(t, 'a.txt'), 'parent\n');
    mounts.unmount(t);
    await commit('base', 'base-active');

    const child = await prepare('child', 'base');
    expect(child.mounts[0]).toMatchObject({ type: 'overlay', source: 'overlay' });
    expect(child.mounts[0]!.options).toEqual(
      expect.arrayContaining([expect.stringMatching(/^upperdir=/), expect.stringMatching(/^workdir=/), expect.stringMatching(/^lowerdir=.*\/1\/fs$/)]),
    );
    const again = await rpc<snapshots.MountsResponse>((cb) => c().mounts({ snapshotter: SN, key: 'child' }, md(), cb));
    expect(again.mounts).toEqual(child.mounts);
    const m = mounts.mount(spec(child.mounts));
    expect(fs.readFileSync(path.join(m, 'a.txt'), 'utf8')).toBe('parent\n');
    fs.writeFileSync(path.join(m, 'b.txt'), 'child\n');
    fs.rmSync(path.join(m, 'a.txt'));
    mounts.unmount(m);
    await commit('top', 'child', md(), { layer: '2' });

    const info = (await stat('top')).info!;
    expect(info).toMatchObject({ name: 'top', parent: 'base', kind: snapshots.Kind.COMMITTED, labels: { layer: '2' } });
    expect(info.createdAt!.seconds).toBeGreaterThan(0n);
    expect((await stat('base')).info!.kind).toBe(3);

    const v = await view('merged', 'top');
    expect(v.mounts[0]!.options.filter((o) => /^(upperdir|workdir)=/.test(o))).toEqual([]);
    expect((await stat('merged')).info!.kind).toBe(snapshots.Kind.VIEW);
    const vm = mounts.mount(spec(v.mounts));
    expect(fs.readdirSync(vm)).toEqual(['b.txt']);
    expect(() => fs.writeFileSync(path.join(vm, 'c'), '')).toThrow(expect.objectContaining({ code: 'EROFS' }));
    mounts.unmount(vm);

    const u = await usage('base');
    expect(u.inodes).toBe(2n);
    expect(u.size).toBeGreaterThan(0n);

    expect(await code(remove('base'))).toBe(status.FAILED_PRECONDITION);
    await remove('merged');
    await remove('top');
    await remove('base');
    expect(await names()).toEqual([]);

    const got = seen.map((e) => {
      if (e.topic === '/snapshot/prepare') return [e.topic, unpackAny(e.event, 'containerd.events.SnapshotPrepare', events.SnapshotPrepare)];
      if (e.topic === '/snapshot/commit') return [e.topic, unpackAny(e.event, 'containerd.events.SnapshotCommit', events.SnapshotCommit)];
      return [e.topic, unpackAny(e.event, 'containerd.events.SnapshotRemove', events.SnapshotRemove)];
    });
    expect(got).toEqual([
      ['/snapshot/prepare', { key: 'base-active', parent: '', snapshotter: SN }],
      ['/snapshot/commit', { key: 'base-active', name: 'base', snapshotter: SN }],
      ['/snapshot/prepare', { key: 'child', parent: 'base', snapshotter: SN }],
      ['/snapshot/commit', { key: 'child', name: 'top', snapshotter: SN }],
      ['/snapshot/remove', { key: 'merged', snapshotter: SN }],
      ['/snapshot/remove', { key: 'top', snapshotter: SN }],
      ['/snapshot/remove', { key: 'base', snapshotter: SN }],
    ]);
    expect(seen.every((e) => e.namespace === 'default')).toBe(true);
  });

  test('update, list filters and batches, namespaces', async () => {
    await prepare('a', '', md(), { x: '1' });
    await commit('a-c', 'a');
    await prepare('b', 'a-c', md(), { x: '2' });
    await prepare('other-ns', '', md('ns2'));

    const up = await rpc<snapshots.UpdateSnapshotResponse>((cb) =>
      c().update({ snapshotter: SN, info: { name: 'b', parent: '', kind: 0, labels: { y: 'z' } }, updateMask: ['labels.y'] }, md(), cb),
    );
    expect(up.info?.labels).toEqual({ x: '2', y: 'z' });
    expect(await code(rpc((cb) => c().update({ snapshotter: SN, info: { name: 'b', parent: '', kind: 0, labels: {} }, updateMask: ['kind'] }, md(), cb)))).toBe(
      status.INVALID_ARGUMENT,
    );

    expect(await names()).toEqual(['a-c', 'b']);
    expect(await names(['kind==committed'])).toEqual(['a-c']);
    expect(await names(['parent==a-c'])).toEqual(['b']);
    expect(await names(['labels.y==z'])).toEqual(['b']);
    expect(await names(['name==b'])).toEqual(['b']);
    expect((await list([], md('ns2'))).flatMap((r) => r.info.map((i) => i.name))).toEqual(['other-ns']);
    expect(await code(stat('other-ns'))).toBe(status.NOT_FOUND);
    expect(await code(list(['name==']))).toBe(status.INVALID_ARGUMENT);

    for (let i = 0; i < 120; i++) await view(`v-${String(i).padStart(3, '0')}`, 'a-c');
    const batches = await list(['kind==view']);
    expect(batches.map((b) => b.info.length)).toEqual([100, 20]);
    expect(await list(['name==nothing'])).toEqual([]);
  });

  test('leases: resources reported for Prepare, View and Commit; an unknown lease refuses the call', async () => {
    await prepare('k1', '', md('default', 'lease-1'));
    await commit('k1-c', 'k1', md('default', 'lease-1'));
    await view('v1', 'k1-c', md('default', 'lease-2'));
    await prepare('no-lease', '');
    expect(s.leaseCalls).toEqual([
      { ns: 'default', leaseId: 'lease-1', resource: { id: 'k1', type: 'snapshots/overlayfs' } },
      { ns: 'default', leaseId: 'lease-1', resource: { id: 'k1-c', type: 'snapshots/overlayfs' } },
      { ns: 'default', leaseId: 'lease-2', resource: { id: 'v1', type: 'snapshots/overlayfs' } },
    ]);
    expect(await code(prepare('k2', '', md('default', 'missing')))).toBe(status.NOT_FOUND);
    expect(await code(stat('k2'))).toBe(status.NOT_FOUND);
  });

  test('bad input gets containerd status codes', async () => {
    await prepare('a', '');
    await commit('a-c', 'a');
    await prepare('b', 'a-c');
    expect(await code(prepare('b', ''))).toBe(status.ALREADY_EXISTS);
    expect(await code(prepare('x', 'nope'))).toBe(status.NOT_FOUND);
    expect(await code(prepare('x', 'b'))).toBe(status.INVALID_ARGUMENT); // parent not committed
    expect(await code(commit('z', 'a-c'))).toBe(status.FAILED_PRECONDITION);
    expect(await code(commit('a-c', 'b'))).toBe(status.ALREADY_EXISTS);
    expect(await code(commit('z', 'nope'))).toBe(status.NOT_FOUND);
    expect(await code(remove('nope'))).toBe(status.NOT_FOUND);
    expect(await code(usage('nope'))).toBe(status.NOT_FOUND);
    expect(await code(rpc((cb) => c().mounts({ snapshotter: SN, key: 'nope' }, md(), cb)))).toBe(status.NOT_FOUND);
    expect(await code(rpc((cb) => c().prepare({ snapshotter: 'btrfs', key: 'k', parent: '', labels: {} }, md(), cb)))).toBe(status.INVALID_ARGUMENT);
    expect(await code(rpc((cb) => c().stat({ snapshotter: '', key: 'k' }, md(), cb)))).toBe(status.INVALID_ARGUMENT);
    expect(await code(list([], md(), 'btrfs'))).toBe(status.INVALID_ARGUMENT);
    expect(await code(rpc((cb) => c().stat({ snapshotter: SN, key: 'a-c' }, new Metadata(), cb)))).toBe(status.INVALID_ARGUMENT);
    const err = await stat('nope').catch((e: ServiceError) => e);
    expect((err as ServiceError).details).toMatch(/snapshot "nope".*not found/);
  });

  test('cleanup removes orphan directories', async () => {
    await prepare('keep', '');
    const dirs = path.join(s.dir, 'root', 'snapshots', 'overlayfs', 'snapshots');
    fs.mkdirSync(path.join(dirs, '42', 'fs'), { recursive: true });
    await rpc((cb) => c().cleanup({ snapshotter: SN }, md(), cb));
    expect(fs.readdirSync(dirs)).toEqual(['1']);
  });
});
