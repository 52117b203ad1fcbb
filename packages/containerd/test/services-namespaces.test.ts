import { Metadata, status } from '@grpc/grpc-js';
import { events, namespaceMetadata, unpackAny, type namespaces } from '@gantry/api';
import type { EventEnvelope } from '../src/events/exchange';
import { newContainer, rpc, startHarness, type Harness } from './services-harness';

describe('Namespaces service', () => {
  let h: Harness;
  const seen: EventEnvelope[] = [];
  beforeAll(async () => {
    h = await startHarness();
    h.exchange.subscribe(['topic~="^/namespaces/"'], (e) => seen.push(e));
  });
  afterAll(() => h.close());

  const md = namespaceMetadata('default');
  const get = (name: string) => rpc<namespaces.GetNamespaceResponse>((cb) => h.ns.get({ name }, md, cb));
  const list = (filter = '') => rpc<namespaces.ListNamespacesResponse>((cb) => h.ns.list({ filter }, md, cb));
  const create = (name: string, labels: Record<string, string> = {}) =>
    rpc<namespaces.CreateNamespaceResponse>((cb) => h.ns.create({ namespace: { name, labels } }, md, cb));
  const update = (name: string, labels: Record<string, string>, updateMask?: string[]) =>
    rpc<namespaces.UpdateNamespaceResponse>((cb) => h.ns.update({ namespace: { name, labels }, updateMask }, md, cb));
  const remove = (name: string) => rpc((cb) => h.ns.delete({ name }, md, cb));

  it('creates, gets, lists (with filters) and publishes /namespaces/create', async () => {
    expect((await create('alpha', { team: 'a', tier: 'x' })).namespace).toEqual({ name: 'alpha', labels: { team: 'a', tier: 'x' } });
    await create('beta', { team: 'b' });
    expect((await get('alpha')).namespace).toEqual({ name: 'alpha', labels: { team: 'a', tier: 'x' } });
    expect((await list()).namespaces.map((n) => n.name)).toEqual(['alpha', 'beta']);
    expect((await list('labels.team==b')).namespaces.map((n) => n.name)).toEqual(['beta']);
    const ev = seen.find((e) => e.topic === '/namespaces/create' && e.namespace === 'alpha');
    expect(unpackAny(ev?.event, 'containerd.events.NamespaceCreate', events.NamespaceCreate)).toEqual({ name: 'alpha', labels: { team: 'a', tier: 'x' } });
  });

  it('refuses duplicates, bad names and unknown namespaces with the right codes', async () => {
    await expect(create('alpha')).rejects.toMatchObject({ code: status.ALREADY_EXISTS, details: expect.stringMatching(/"alpha": already exists/) });
    await expect(create('bad/name')).rejects.toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringMatching(/invalid/) });
    await expect(create('')).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    await expect(get('nope')).rejects.toMatchObject({ code: status.NOT_FOUND, details: expect.stringMatching(/"nope": not found/) });
    await expect(remove('nope')).rejects.toMatchObject({ code: status.NOT_FOUND });
    await expect(list('labels.team==')).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
  });

  it('updates labels: whole set without a mask, one key with labels.<k>, and refuses other paths', async () => {
    expect((await update('alpha', { team: 'c' })).namespace?.labels).toEqual({ team: 'c' });
    expect((await update('alpha', { tier: 'y', ignored: 'z' }, ['labels.tier'])).namespace?.labels).toEqual({ team: 'c', tier: 'y' });
    // a key in the mask but not in the request is removed
    expect((await update('alpha', {}, ['labels.team'])).namespace?.labels).toEqual({ tier: 'y' });
    expect((await update('alpha', { a: '1' }, ['labels'])).namespace?.labels).toEqual({ a: '1' });
    expect((await get('alpha')).namespace?.labels).toEqual({ a: '1' });
    await expect(update('alpha', {}, ['name'])).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: expect.stringMatching(/cannot update "name"/),
    });
    await expect(update('nope', {})).rejects.toMatchObject({ code: status.NOT_FOUND });
    expect(seen.filter((e) => e.topic === '/namespaces/update').length).toBe(4);
  });

  it('refuses to delete a namespace that still has containers, then deletes it once empty', async () => {
    await rpc((cb) => h.containers.create({ container: newContainer('c1') }, namespaceMetadata('beta'), cb));
    await expect(remove('beta')).rejects.toMatchObject({
      code: status.FAILED_PRECONDITION,
      details: expect.stringMatching(/namespace "beta" must be empty, but it still has containers/),
    });
    await rpc((cb) => h.containers.delete({ id: 'c1' }, namespaceMetadata('beta'), cb));
    await remove('beta');
    await expect(get('beta')).rejects.toMatchObject({ code: status.NOT_FOUND });
    expect(seen.some((e) => e.topic === '/namespaces/delete' && e.namespace === 'beta')).toBe(true);
  });

  it('creates a namespace implicitly when a container is created in it', async () => {
    await rpc((cb) => h.containers.create({ container: newContainer('c1') }, namespaceMetadata('implicit'), cb));
    expect((await get('implicit')).namespace).toEqual({ name: 'implicit', labels: {} });
  });

  it('needs no namespace header itself', async () => {
    const r = await rpc<namespaces.ListNamespacesResponse>((cb) => h.ns.list({ filter: '' }, new Metadata(), cb));
    expect(r.namespaces.map((n) => n.name)).toContain('alpha');
  });
});
