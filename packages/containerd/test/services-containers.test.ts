import { Metadata, status, type ClientReadableStream } from '@grpc/grpc-js';
import { containers, events, namespaceMetadata, timestampToNanos, unpackAny } from '@gantry/api';
import type { EventEnvelope } from '../src/events/exchange';
import { newContainer, rpc, specAny, startHarness, type Harness } from './services-harness';

describe('Containers service', () => {
  let h: Harness;
  const withTask = new Set<string>();
  const seen: EventEnvelope[] = [];
  beforeAll(async () => {
    h = await startHarness({ hasTask: (ns, id) => withTask.has(`${ns}/${id}`) });
    h.exchange.subscribe(['topic~="^/containers/"'], (e) => seen.push(e));
  });
  afterAll(() => h.close());

  const md = namespaceMetadata('test');
  const create = (c: containers.Container, m: Metadata = md) => rpc<containers.CreateContainerResponse>((cb) => h.containers.create({ container: c }, m, cb));
  const get = (id: string) => rpc<containers.GetContainerResponse>((cb) => h.containers.get({ id }, md, cb)).then((r) => r.container!);
  const list = (...filters: string[]) =>
    rpc<containers.ListContainersResponse>((cb) => h.containers.list({ filters }, md, cb)).then((r) => r.containers.map((c) => c.id));
  const update = (c: Partial<containers.Container> & { id: string }, updateMask?: string[]) =>
    rpc<containers.UpdateContainerResponse>((cb) => h.containers.update({ container: containers.Container.fromPartial(c), updateMask }, md, cb)).then(
      (r) => r.container!,
    );
  const remove = (id: string) => rpc((cb) => h.containers.delete({ id }, md, cb));

  it('creates and gets a container with every field kept exactly', async () => {
    const ext = { typeUrl: 'example.com/Ext', value: Buffer.from([0, 1, 2, 255]) };
    const opts = { typeUrl: 'containerd.runc.v1.Options', value: Buffer.from([8, 1]) };
    const before = BigInt(Date.now()) * 1_000_000n;
    const { container } = await create(
      newContainer('web-1', {
        labels: { app: 'web', tier: 'front' },
        runtime: { name: 'io.containerd.runc.v2', options: opts },
        snapshotter: 'overlayfs',
        snapshotKey: 'web-1',
        extensions: { ext },
        sandbox: 'pod-1',
      }),
    );
    const got = await get('web-1');
    expect(got).toEqual(container);
    expect(got).toMatchObject({
      id: 'web-1',
      labels: { app: 'web', tier: 'front' },
      image: 'docker.io/library/busybox:latest',
      runtime: { name: 'io.containerd.runc.v2', options: opts },
      spec: specAny(),
      snapshotter: 'overlayfs',
      snapshotKey: 'web-1',
      extensions: { ext },
      sandbox: 'pod-1',
    });
    // the server stamps both times
    expect(timestampToNanos(got.createdAt!)).toBeGreaterThanOrEqual(before);
    expect(got.updatedAt).toEqual(got.createdAt);
    const ev = seen.find((e) => e.topic === '/containers/create');
    expect(ev?.namespace).toBe('test');
    expect(unpackAny(ev?.event, 'containerd.events.ContainerCreate', events.ContainerCreate)).toEqual({
      id: 'web-1',
      image: 'docker.io/library/busybox:latest',
      runtime: { name: 'io.containerd.runc.v2', options: opts },
    });
  });

  it('refuses a duplicate, invalid ids, a missing runtime name or spec', async () => {
    await expect(create(newContainer('web-1'))).rejects.toMatchObject({
      code: status.ALREADY_EXISTS,
      details: expect.stringMatching(/"web-1": already exists/),
    });
    for (const bad of ['', '-lead', 'a..b', 'a/b', 'x'.repeat(77), 'trail_', 'sp ace']) {
      await expect(create(newContainer(bad))).rejects.toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringMatching(/identifier/) });
    }
    await create(newContainer('x'.repeat(76)));
    await expect(create(newContainer('c', { runtime: { name: '' } }))).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: expect.stringMatching(/runtime.name must be set/),
    });
    await expect(create(newContainer('c', { spec: undefined }))).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: expect.stringMatching(/spec must be set/),
    });
    await expect(get('a/b')).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    await expect(get('missing')).rejects.toMatchObject({
      code: status.NOT_FOUND,
      details: expect.stringMatching(/container "missing" in namespace "test": not found/),
    });
  });

  it('refuses calls without a namespace header with INVALID_ARGUMENT and a message', async () => {
    await expect(create(newContainer('c'), new Metadata())).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: expect.stringMatching(/namespace is required/),
    });
    await expect(rpc((cb) => h.containers.list({ filters: [] }, cb))).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
  });

  it('lists with containerd filters', async () => {
    await create(newContainer('db-1', { image: 'docker.io/library/postgres:16', labels: { app: 'db', 'io.example/role': 'primary' } }));
    await create(newContainer('bb', { image: 'busybox', labels: { foo: 'bar' }, runtime: { name: 'io.containerd.gantry.v1' } }));
    expect(await list()).toEqual(['bb', 'db-1', 'web-1', 'x'.repeat(76)]);
    expect(await list('labels.foo==bar')).toEqual(['bb']);
    expect(await list('image~=busy')).toEqual(['bb', 'web-1', 'x'.repeat(76)]);
    expect(await list('image~=busy,labels.app==web')).toEqual(['web-1']);
    expect(await list('labels.app==db', 'labels.foo==bar')).toEqual(['bb', 'db-1']); // OR of filter strings
    expect(await list('runtime.name==io.containerd.gantry.v1')).toEqual(['bb']);
    expect(await list('labels."io.example/role"==primary')).toEqual(['db-1']);
    expect(await list('labels.app')).toEqual(['db-1', 'web-1']); // presence
    expect(await list('id!=bb,snapshotter==overlayfs')).toEqual(['web-1']);
    expect(await list('labels.constructor')).toEqual([]);
    await expect(list('image~=(')).rejects.toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringMatching(/invalid filter/) });
  });

  it('streams the list one container per message', async () => {
    const stream: ClientReadableStream<containers.ListContainerMessage> = h.containers.listStream({ filters: ['image~=busy'] }, md);
    const ids: string[] = [];
    await new Promise<void>((resolve, reject) => {
      stream.on('data', (m: containers.ListContainerMessage) => ids.push(m.container!.id));
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    expect(ids).toEqual(['bb', 'web-1', 'x'.repeat(76)]);
    const bad = h.containers.listStream({ filters: ['"'] }, md);
    await expect(
      new Promise((resolve, reject) => {
        bad.on('data', resolve);
        bad.on('error', reject);
      }),
    ).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
  });

  it('updates with masks: labels.<k>, labels, image, spec, snapshotkey, extensions.<k>', async () => {
    const before = await get('web-1');
    let c = await update({ id: 'web-1', labels: { tier: 'back', other: 'ignored' } }, ['labels.tier']);
    expect(c.labels).toEqual({ app: 'web', tier: 'back' });
    expect(c.image).toBe(before.image); // untouched outside the mask
    expect(timestampToNanos(c.updatedAt!)).toBeGreaterThanOrEqual(timestampToNanos(before.updatedAt!));
    expect(c.createdAt).toEqual(before.createdAt);
    c = await update({ id: 'web-1' }, ['labels.app']); // absent from the request: removed
    expect(c.labels).toEqual({ tier: 'back' });
    c = await update({ id: 'web-1', labels: { only: 'me' } }, ['labels']);
    expect(c.labels).toEqual({ only: 'me' });
    c = await update({ id: 'web-1', image: 'busybox:1.36', spec: specAny(['true']), snapshotKey: 'k2' }, ['image', 'spec', 'snapshotkey']);
    expect(c).toMatchObject({ image: 'busybox:1.36', spec: specAny(['true']), snapshotKey: 'k2', snapshotter: 'overlayfs' });
    const ext2 = { typeUrl: 'example.com/Ext2', value: Buffer.from('x') };
    c = await update({ id: 'web-1', extensions: { ext2 } }, ['extensions.ext2']);
    expect(Object.keys(c.extensions).sort()).toEqual(['ext', 'ext2']);
    c = await update({ id: 'web-1' }, ['extensions.ext']);
    expect(c.extensions).toEqual({ ext2 });
    expect(await get('web-1')).toEqual(c);
    const ev = seen.filter((e) => e.topic === '/containers/update').pop();
    expect(unpackAny(ev?.event, 'containerd.events.ContainerUpdate', events.ContainerUpdate)).toEqual({
      id: 'web-1',
      image: 'busybox:1.36',
      labels: { only: 'me' },
      snapshotKey: 'k2',
    });
  });

  it('updates without a mask: replaces labels/image/spec/snapshotkey/extensions, refuses runtime or snapshotter changes', async () => {
    const cur = await get('web-1');
    const c = await update({ ...cur, labels: { fresh: '1' }, image: 'alpine', extensions: {} });
    expect(c).toMatchObject({ labels: { fresh: '1' }, image: 'alpine', extensions: {}, sandbox: 'pod-1' });
    await expect(update({ ...cur, runtime: { name: 'io.containerd.other.v1' } })).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: expect.stringMatching(/runtime.name is immutable/),
    });
    await expect(update({ ...cur, snapshotter: 'native' })).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: expect.stringMatching(/snapshotter is immutable/),
    });
    for (const path of ['runtime', 'snapshotter', 'id', 'created_at']) {
      await expect(update({ ...cur, runtime: { name: 'x' } }, [path])).rejects.toMatchObject({
        code: status.INVALID_ARGUMENT,
        details: expect.stringMatching(new RegExp(`cannot update "${path}" field`)),
      });
    }
    // spec removal fails validation: the stored container stays valid
    await expect(update({ id: 'web-1' }, ['spec'])).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    await expect(update({ id: 'nope' }, ['image'])).rejects.toMatchObject({ code: status.NOT_FOUND });
    await expect(update({ id: '' }, ['image'])).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    expect((await get('web-1')).image).toBe('alpine');
  });

  it('deletes: NOT_FOUND when missing, FAILED_PRECONDITION while a task exists', async () => {
    withTask.add('test/db-1');
    await expect(remove('db-1')).rejects.toMatchObject({ code: status.FAILED_PRECONDITION, details: expect.stringMatching(/has a task/) });
    withTask.delete('test/db-1');
    await remove('db-1');
    await expect(remove('db-1')).rejects.toMatchObject({ code: status.NOT_FOUND });
    expect(await list('id==db-1')).toEqual([]);
    const ev = seen.filter((e) => e.topic === '/containers/delete');
    expect(ev.map((e) => unpackAny(e.event, 'containerd.events.ContainerDelete', events.ContainerDelete))).toEqual([{ id: 'db-1' }]);
  });

  it('keeps namespaces apart', async () => {
    await create(newContainer('web-1'), namespaceMetadata('other'));
    expect(await list()).not.toContain('other');
    const other = await rpc<containers.ListContainersResponse>((cb) => h.containers.list({ filters: [] }, namespaceMetadata('other'), cb));
    expect(other.containers.map((c) => c.id)).toEqual(['web-1']);
  });
});
