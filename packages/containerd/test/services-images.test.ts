/**
 * containerd.services.images.v1.Images through the generated ImagesClient: Create, Get, List with
 * filters, Update with field masks, Delete (with the GC hook), the /images/* events on a
 * subscription, and the error codes containerd gives.
 */
import * as path from 'node:path';
import { credentials, Metadata, Server, ServerCredentials, status, type ClientReadableStream } from '@grpc/grpc-js';
import { events, images, namespaceMetadata, types, unpackAny } from '@gantry/api';
import { imagesService } from '../src/services/images';
import { rpc, startHarness, type Harness } from './services-harness';
import { waitFor } from '@gantry/testkit';

const DIGEST_A = `sha256:${'a'.repeat(64)}`;
const DIGEST_B = `sha256:${'b'.repeat(64)}`;
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

const image = (name: string, over: Partial<images.Image> = {}): images.Image =>
  images.Image.fromPartial({ name, labels: {}, target: types.Descriptor.fromPartial({ mediaType: MANIFEST, digest: DIGEST_A, size: 1234n }), ...over });

describe('Images service', () => {
  let h: Harness;
  let server: Server;
  let client: images.ImagesClient;
  const gcCalls: { ns: string; sync: boolean }[] = [];

  beforeAll(async () => {
    h = await startHarness();
    // the harness serves metadata, events and introspection; Images is served next to it over the same context
    server = new Server();
    server.addService(
      images.ImagesService,
      imagesService(h.ctx, {
        collectGarbage: async (ns, sync) => {
          gcCalls.push({ ns, sync });
        },
      }),
    );
    const sock = path.join(h.dir, 'images.sock');
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix://${sock}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
    );
    client = new images.ImagesClient(`unix://${sock}`, credentials.createInsecure());
  });
  afterAll(async () => {
    client?.close();
    await new Promise<void>((resolve) => (server ? server.tryShutdown(() => resolve()) : resolve()));
    await h?.close();
  });

  const create = (ns: string, img: images.Image) => rpc<images.CreateImageResponse>((cb) => client.create({ image: img }, namespaceMetadata(ns), cb));
  const get = (ns: string, name: string) => rpc<images.GetImageResponse>((cb) => client.get({ name }, namespaceMetadata(ns), cb));
  const list = (ns: string, ...filters: string[]) =>
    rpc<images.ListImagesResponse>((cb) => client.list({ filters }, namespaceMetadata(ns), cb)).then((r) => r.images.map((i) => i.name).sort());
  const update = (ns: string, img: images.Image, updateMask: string[]) =>
    rpc<images.UpdateImageResponse>((cb) => client.update({ image: img, updateMask }, namespaceMetadata(ns), cb));
  const del = (ns: string, name: string, sync = false) => rpc((cb) => client.delete({ name, sync }, namespaceMetadata(ns), cb));

  it('creates an image and gets it back with its target and times', async () => {
    const before = Date.now();
    const created = await create('i1', image('docker.io/library/busybox:latest', { labels: { team: 'gantry' } }));
    expect(created.image).toMatchObject({
      name: 'docker.io/library/busybox:latest',
      labels: { team: 'gantry' },
      target: { mediaType: MANIFEST, digest: DIGEST_A, size: 1234n },
    });
    const createdAt = Number(created.image!.createdAt!.seconds) * 1000;
    expect(createdAt).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(created.image!.updatedAt).toEqual(created.image!.createdAt);
    const got = await get('i1', 'docker.io/library/busybox:latest');
    expect(got.image).toEqual(created.image);
    // namespaced: another namespace does not see it
    await expect(get('i2', 'docker.io/library/busybox:latest')).rejects.toMatchObject({ code: status.NOT_FOUND });
  });

  it('lists with filters on name, labels and target', async () => {
    await create('l', image('docker.io/library/alpine:3', { labels: { os: 'alpine', tier: 'base' } }));
    await create('l', image('docker.io/library/debian:12', { labels: { os: 'debian', tier: 'base' } }));
    await create(
      'l',
      image('example.com/app:1', { labels: { os: 'debian' }, target: types.Descriptor.fromPartial({ mediaType: MANIFEST, digest: DIGEST_B, size: 99n }) }),
    );
    expect(await list('l')).toEqual(['docker.io/library/alpine:3', 'docker.io/library/debian:12', 'example.com/app:1']);
    expect(await list('l', 'name==docker.io/library/debian:12')).toEqual(['docker.io/library/debian:12']);
    expect(await list('l', 'name~=^docker\\.io/')).toEqual(['docker.io/library/alpine:3', 'docker.io/library/debian:12']);
    expect(await list('l', 'labels.os==debian')).toEqual(['docker.io/library/debian:12', 'example.com/app:1']);
    expect(await list('l', 'labels.os==debian,labels.tier==base')).toEqual(['docker.io/library/debian:12']); // AND within one filter
    expect(await list('l', 'labels.os==alpine', 'name==example.com/app:1')).toEqual(['docker.io/library/alpine:3', 'example.com/app:1']); // OR across filters
    expect(await list('l', 'labels.tier')).toEqual(['docker.io/library/alpine:3', 'docker.io/library/debian:12']); // presence
    expect(await list('l', `target.digest==${DIGEST_B}`)).toEqual(['example.com/app:1']);
    expect(await list('l', 'labels.os==windows')).toEqual([]);
    expect(await list('empty-ns')).toEqual([]);
  });

  it('updates one label with a labels.<k> mask, the target with a target mask, and both with no mask', async () => {
    const name = 'docker.io/library/upd:1';
    const created = await create('u', image(name, { labels: { keep: 'yes', drop: 'me' } }));
    // labels.add sets one, labels.drop with no value removes one; other fields of the request are ignored
    const u1 = await update(
      'u',
      image(name, { labels: { add: 'new' }, target: types.Descriptor.fromPartial({ mediaType: MANIFEST, digest: DIGEST_B, size: 5n }) }),
      ['labels.add', 'labels.drop'],
    );
    expect(u1.image?.labels).toEqual({ keep: 'yes', add: 'new' });
    expect(u1.image?.target?.digest).toBe(DIGEST_A);
    expect(u1.image?.createdAt).toEqual(created.image?.createdAt);

    const u2 = await update(
      'u',
      image(name, { labels: { ignored: 'x' }, target: types.Descriptor.fromPartial({ mediaType: MANIFEST, digest: DIGEST_B, size: 5n }) }),
      ['target'],
    );
    expect(u2.image?.target).toMatchObject({ digest: DIGEST_B, size: 5n });
    expect(u2.image?.labels).toEqual({ keep: 'yes', add: 'new' });
    expect((await get('u', name)).image?.target?.digest).toBe(DIGEST_B);

    // no mask: labels and target replaced
    const u3 = await update('u', image(name, { labels: { only: 'this' } }), []);
    expect(u3.image).toMatchObject({ labels: { only: 'this' }, target: { digest: DIGEST_A } });
  });

  it('deletes an image and asks for garbage collection (synchronously with sync)', async () => {
    await create('d', image('docker.io/library/gone:1'));
    gcCalls.length = 0;
    await del('d', 'docker.io/library/gone:1');
    await expect(get('d', 'docker.io/library/gone:1')).rejects.toMatchObject({ code: status.NOT_FOUND });
    await create('d', image('docker.io/library/gone:2'));
    await del('d', 'docker.io/library/gone:2', true);
    expect(gcCalls).toEqual([
      { ns: 'd', sync: false },
      { ns: 'd', sync: true },
    ]);
    expect(await list('d')).toEqual([]);
  });

  it('publishes /images/create, /images/update and /images/delete to subscribers', async () => {
    const got: events.Envelope[] = [];
    const stream: ClientReadableStream<events.Envelope> = h.events.subscribe({ filters: ['namespace==ev,topic~="^/images/"'] });
    stream.on('data', (e: events.Envelope) => got.push(e));
    stream.on('error', () => undefined);
    await new Promise((resolve) => stream.once('metadata', resolve));
    const name = 'docker.io/library/evt:1';
    await create('ev', image(name, { labels: { a: '1' } }));
    await update('ev', image(name, { labels: { a: '2' } }), ['labels.a']);
    await del('ev', name);
    await create('other-ns', image(name)); // filtered out by namespace
    // a marker: events arrive in order, so once it is in, the other namespace's would be too
    await create('ev', image('docker.io/library/evt:marker'));
    await waitFor('four image events', () => got.length >= 4);
    expect(got.map((e) => [e.namespace, e.topic])).toEqual([
      ['ev', '/images/create'],
      ['ev', '/images/update'],
      ['ev', '/images/delete'],
      ['ev', '/images/create'],
    ]);
    await del('ev', 'docker.io/library/evt:marker');
    expect(unpackAny(got[0]!.event, 'containerd.services.images.v1.ImageCreate', events.ImageCreate)).toEqual({ name, labels: { a: '1' } });
    expect(unpackAny(got[1]!.event, 'containerd.services.images.v1.ImageUpdate', events.ImageUpdate)).toEqual({ name, labels: { a: '2' } });
    expect(unpackAny(got[2]!.event, 'containerd.services.images.v1.ImageDelete', events.ImageDelete)).toMatchObject({ name });
    stream.cancel();
  });

  it('answers ALREADY_EXISTS, NOT_FOUND and INVALID_ARGUMENT as containerd does', async () => {
    const name = 'docker.io/library/err:1';
    await create('e', image(name));
    await expect(create('e', image(name))).rejects.toMatchObject({ code: status.ALREADY_EXISTS, details: expect.stringMatching(/already exists/) });

    await expect(get('e', 'docker.io/library/nope:1')).rejects.toMatchObject({ code: status.NOT_FOUND });
    await expect(update('e', image('docker.io/library/nope:1'), ['labels'])).rejects.toMatchObject({ code: status.NOT_FOUND });
    await expect(del('e', 'docker.io/library/nope:1')).rejects.toMatchObject({ code: status.NOT_FOUND });

    const bad = (over: Partial<images.Image>) => create('e', image('docker.io/library/bad:1', over));
    await expect(rpc((cb) => client.create({}, namespaceMetadata('e'), cb))).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    await expect(bad({ name: '' })).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    await expect(bad({ target: undefined })).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    await expect(bad({ target: types.Descriptor.fromPartial({ mediaType: MANIFEST, digest: 'sha256:short', size: 1n }) })).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: expect.stringMatching(/digest/),
    });
    await expect(bad({ target: types.Descriptor.fromPartial({ mediaType: MANIFEST, digest: DIGEST_A, size: 0n }) })).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: expect.stringMatching(/size/),
    });
    await expect(bad({ target: types.Descriptor.fromPartial({ mediaType: '', digest: DIGEST_A, size: 1n }) })).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: expect.stringMatching(/media type/),
    });
    await expect(update('e', image(name), ['name'])).rejects.toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringMatching(/cannot update/) });
    await expect(
      update('e', image(name, { target: types.Descriptor.fromPartial({ mediaType: MANIFEST, digest: 'nope', size: 1n }) }), ['target']),
    ).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    await expect(list('e', 'labels.a==')).rejects.toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringMatching(/invalid filter/) });
    // no namespace header
    await expect(rpc((cb) => client.get({ name }, new Metadata(), cb))).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: expect.stringMatching(/namespace is required/),
    });
    // the refused calls changed nothing
    expect(await list('e')).toEqual([name]);
    expect((await get('e', name)).image?.target?.digest).toBe(DIGEST_A);
  });
});
