import * as fs from 'node:fs';
import * as path from 'node:path';
import { Metadata, status, type ClientReadableStream } from '@grpc/grpc-js';
import { events, namespaceMetadata, packAny, timestampFromNanos, unpackAny, type containers, type introspection, type version } from '@gantry/api';
import { decodeEvent } from '../src/events/decode';
import { Exchange, type EventEnvelope } from '../src/events/exchange';
import { serverUuid } from '../src/services/introspection';
import { newContainer, rpc, startHarness, type Harness } from './services-harness';
import { waitFor } from '@gantry/testkit';

const containerCreate = (id: string) => packAny('containerd.events.ContainerCreate', events.ContainerCreate, { id, image: 'img', runtime: { name: 'rt' } });

/** Subscribe and collect envelopes; resolves once the server has the subscription in place. */
async function subscribe(
  h: Harness,
  filters: string[],
): Promise<{ got: events.Envelope[]; stream: ClientReadableStream<events.Envelope>; error: Promise<unknown> }> {
  const got: events.Envelope[] = [];
  const stream = h.events.subscribe({ filters });
  stream.on('data', (e: events.Envelope) => got.push(e));
  const error = new Promise((resolve) => stream.on('error', resolve));
  // the server sends headers as soon as it subscribed
  await Promise.race([new Promise((resolve) => stream.once('metadata', resolve)), error]);
  return { got, stream, error };
}

describe('decodeEvent', () => {
  it('decodes containerd event payloads into plain objects for filters', () => {
    const exit = packAny('containerd.events.TaskExit', events.TaskExit, {
      containerId: 'abc',
      id: 'abc',
      pid: 42,
      exitStatus: 0,
      exitedAt: timestampFromNanos(1_700_000_000_123_456_789n),
    });
    expect(decodeEvent(exit)).toEqual({ containerId: 'abc', id: 'abc', pid: 42, exitedAt: '2023-11-14T22:13:20.123Z' });
    expect(decodeEvent(packAny('containerd.services.images.v1.ImageCreate', events.ImageCreate, { name: 'busybox', labels: { a: 'b' } }))).toEqual({
      name: 'busybox',
      labels: { a: 'b' },
    });
    expect(decodeEvent({ typeUrl: 'example.com/Unknown', value: Buffer.alloc(0) })).toBeUndefined();
    expect(decodeEvent({ typeUrl: 'containerd.events.TaskExit', value: Buffer.from([0xff, 0xff, 0xff]) })).toBeUndefined();
  });

  it('lets Exchange filters match on event fields (snake_case paths)', () => {
    const x = new Exchange(decodeEvent);
    const seen: string[] = [];
    x.subscribe(['event.container_id==abc', 'event.labels.a==b'], (e) => seen.push(e.topic));
    const pub = (topic: string, event: EventEnvelope['event']) => x.publish({ timestamp: new Date(), namespace: 'n', topic, event });
    pub('/tasks/exit', packAny('containerd.events.TaskExit', events.TaskExit, { containerId: 'abc', id: 'abc', pid: 1, exitStatus: 0 }));
    pub('/tasks/exit', packAny('containerd.events.TaskExit', events.TaskExit, { containerId: 'xyz', id: 'xyz', pid: 1, exitStatus: 0 }));
    pub('/namespaces/create', packAny('containerd.events.NamespaceCreate', events.NamespaceCreate, { name: 'n', labels: { a: 'b' } }));
    expect(seen).toEqual(['/tasks/exit', '/namespaces/create']);
  });
});

describe('Events service', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it('Subscribe with topic=="/containers/create" receives exactly the create event of a later container', async () => {
    const sub = await subscribe(h, ['topic=="/containers/create"']);
    const md = namespaceMetadata('ev');
    await rpc<containers.CreateContainerResponse>((cb) => h.containers.create({ container: newContainer('c1') }, md, cb));
    await rpc((cb) => h.containers.update({ container: newContainer('c1', { image: 'other' }), updateMask: ['image'] }, md, cb));
    await rpc((cb) => h.containers.delete({ id: 'c1' }, md, cb));
    // a marker: events arrive in order, so once its create is in, any event of c1's would be too
    await rpc((cb) => h.containers.create({ container: newContainer('marker') }, md, cb));
    await waitFor('the create events', () => sub.got.length >= 2);
    const ids = sub.got.map((e) => unpackAny(e.event, 'containerd.events.ContainerCreate', events.ContainerCreate)?.id);
    expect(ids).toEqual(['c1', 'marker']);
    await rpc((cb) => h.containers.delete({ id: 'marker' }, md, cb));
    const [env] = sub.got;
    expect(env).toMatchObject({ namespace: 'ev', topic: '/containers/create' });
    expect(env!.timestamp).toBeDefined();
    expect(unpackAny(env!.event, 'containerd.events.ContainerCreate', events.ContainerCreate)).toMatchObject({
      id: 'c1',
      image: 'docker.io/library/busybox:latest',
    });
    sub.stream.cancel();
    await waitFor('the subscription to end on cancel', () => h.exchange.subscribers === 0);
  });

  it('Publish delivers to subscribers (filters see event fields); bad topic, missing event or namespace are refused', async () => {
    const sub = await subscribe(h, ['namespace==pub,event.id==wanted']);
    const md = namespaceMetadata('pub');
    await rpc((cb) => h.events.publish({ topic: '/custom/thing', event: containerCreate('other') }, md, cb));
    await rpc((cb) => h.events.publish({ topic: '/custom/thing', event: containerCreate('wanted') }, md, cb));
    await waitFor('the published event', () => sub.got.length > 0);
    expect(sub.got.map((e) => [e.namespace, e.topic, unpackAny(e.event, 'containerd.events.ContainerCreate', events.ContainerCreate)?.id])).toEqual([
      ['pub', '/custom/thing', 'wanted'],
    ]);
    for (const topic of ['bad', '', '/', '/a//b', '/a/']) {
      await expect(rpc((cb) => h.events.publish({ topic, event: containerCreate('x') }, md, cb))).rejects.toMatchObject({
        code: status.INVALID_ARGUMENT,
        details: expect.stringMatching(/topic/),
      });
    }
    await expect(rpc((cb) => h.events.publish({ topic: '/a' }, md, cb))).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: expect.stringMatching(/event must be set/),
    });
    await expect(rpc((cb) => h.events.publish({ topic: '/a', event: containerCreate('x') }, new Metadata(), cb))).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: expect.stringMatching(/namespace is required/),
    });
    sub.stream.cancel();
  });

  it('Forward keeps the envelope namespace and timestamp', async () => {
    const sub = await subscribe(h, ['topic=="/tasks/exit"']);
    const ts = timestampFromNanos(1_700_000_000_123_000_000n);
    const event = packAny('containerd.events.TaskExit', events.TaskExit, { containerId: 'c', id: 'c', pid: 7, exitStatus: 3 });
    await rpc((cb) => h.events.forward({ envelope: { namespace: 'fwd', topic: '/tasks/exit', timestamp: ts, event } }, new Metadata(), cb));
    await waitFor('the forwarded event', () => sub.got.length > 0);
    expect(sub.got[0]).toEqual({ namespace: 'fwd', topic: '/tasks/exit', timestamp: ts, event });
    await expect(rpc((cb) => h.events.forward({ envelope: { namespace: 'fwd', topic: '/tasks/exit', event } }, cb))).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: expect.stringMatching(/timestamp/),
    });
    await expect(rpc((cb) => h.events.forward({ envelope: { namespace: 'a/b', topic: '/x', timestamp: ts, event } }, cb))).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
    });
    sub.stream.cancel();
  });

  it('Subscribe with a malformed filter fails with INVALID_ARGUMENT', async () => {
    const sub = await subscribe(h, ['topic==']);
    await expect(sub.error).resolves.toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringMatching(/invalid filter/) });
  });
});

describe('Version and Introspection services', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it('reports the package version and a revision', async () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '../package.json'), 'utf8')) as { version: string };
    const v = await rpc<version.VersionResponse>((cb) => h.version.version({}, cb));
    expect(v.version).toBe(pkg.version);
    expect(v.revision).not.toBe('');
  });

  it('lists our plugins, with filters', async () => {
    const plugins = (...filters: string[]) =>
      rpc<introspection.PluginsResponse>((cb) => h.introspection.plugins({ filters }, namespaceMetadata('default'), cb)).then((r) =>
        r.plugins.map((p) => `${p.type} ${p.id}`),
      );
    const all = await plugins();
    for (const id of ['namespaces', 'containers', 'tasks', 'events', 'version', 'introspection']) expect(all).toContain(`io.containerd.grpc.v1 ${id}`);
    expect(all).toContain('io.containerd.runtime.v2 task');
    expect(all).toContain('io.containerd.metadata.v1 records');
    expect(await plugins('type==io.containerd.runtime.v2')).toEqual(['io.containerd.runtime.v2 task']);
    expect(await plugins('id==version')).toEqual(['io.containerd.grpc.v1 version']);
    await expect(plugins('id~=(')).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
  });

  it('has a UUID kept under the root across restarts, and our pid', async () => {
    const s = await rpc<introspection.ServerResponse>((cb) => h.introspection.server({}, cb));
    expect(s.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(s.pid).toBe(BigInt(process.pid));
    expect(fs.readFileSync(path.join(h.ctx.root, 'uuid'), 'utf8').trim()).toBe(s.uuid);
    expect(serverUuid(h.ctx.root)).toBe(s.uuid);
  });
});
