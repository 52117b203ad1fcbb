/** The content service through the generated ContentClient: containerd's Write protocol and the blob/ingest semantics. */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { status as Code, Metadata, type ServiceError } from '@grpc/grpc-js';
import { content, events, namespaceMetadata, unpackAny, type protobuf } from '@gantry/api';
import { rpc } from './services-harness';
import { listAll, md, readAll, startContentHarness, upload, WriteSession, type ContentHarness } from './content-harness';

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('content service', () => {
  let h: ContentHarness;
  beforeEach(async () => {
    h = await startContentHarness();
  });
  afterEach(() => h?.close());

  const info = (ns: string, digest: string) => rpc<content.InfoResponse>((cb) => h.content.info({ digest }, md(ns), cb));
  const status = (ns: string, ref: string) => rpc<content.StatusResponse>((cb) => h.content.status({ ref }, md(ns), cb));
  const abort = (ns: string, ref: string) => rpc<protobuf.Empty>((cb) => h.content.abort({ ref }, md(ns), cb));
  const del = (ns: string, digest: string) => rpc<protobuf.Empty>((cb) => h.content.delete({ digest }, md(ns), cb));
  const update = (ns: string, digest: string, labels: Record<string, string>, updateMask: string[]) =>
    rpc<content.UpdateResponse>((cb) => h.content.update({ info: content.Info.fromPartial({ digest, labels }), updateMask }, md(ns), cb));
  const blobFiles = () => fs.readdirSync(path.join(h.root, 'content', 'blobs', 'sha256'));
  const ingestDirs = () => fs.readdirSync(path.join(h.root, 'content', 'ingest'));
  const code = (p: Promise<unknown>, c: Code, msg?: RegExp) =>
    expect(p).rejects.toMatchObject({ code: c, ...(msg ? { details: expect.stringMatching(msg) } : {}) });

  test('write, commit, info, read (whole and ranged) round trip', async () => {
    const data = randomBytes(2 * (1 << 20) + 777);
    const digest = sha(data);

    const s = new WriteSession(h.content, md('ns1'));
    const st = await s.stat('ref-a', data.length, digest);
    expect(st).toMatchObject({ action: content.WriteAction.STAT, offset: 0n, total: BigInt(data.length), digest: sha('') });
    expect(st.startedAt?.seconds).toBeGreaterThan(0n);
    expect(st.updatedAt?.seconds).toBeGreaterThan(0n);
    const w1 = await s.write(0, data.subarray(0, 1000));
    expect(w1).toMatchObject({ action: content.WriteAction.WRITE, offset: 1000n, digest: sha(data.subarray(0, 1000)) });
    const w2 = await s.write(1000, data.subarray(1000));
    expect(w2.offset).toBe(BigInt(data.length));
    const c = await s.commit(data.length, data.length, digest, { 'containerd.io/gc.root': 'x' });
    expect(c).toMatchObject({ action: content.WriteAction.COMMIT, offset: BigInt(data.length), digest });
    await s.close();

    const got = (await info('ns1', digest)).info!;
    expect(got).toMatchObject({ digest, size: BigInt(data.length), labels: { 'containerd.io/gc.root': 'x' } });
    expect(got.createdAt).toEqual(got.updatedAt);

    const all = await readAll(h.content, 'ns1', digest);
    expect(all.data.equals(data)).toBe(true);
    expect(all.sizes.every((n) => n <= 1 << 20)).toBe(true);
    expect(all.sizes[0]).toBe(1 << 20);
    expect(all.offsets).toEqual([0, 1 << 20, 2 << 20]);

    const part = await readAll(h.content, 'ns1', digest, 100, 5000);
    expect(part.data.equals(data.subarray(100, 5100))).toBe(true);
    expect(part.offsets).toEqual([100]);
    const tail = await readAll(h.content, 'ns1', digest, data.length - 10, 0);
    expect(tail.data.equals(data.subarray(data.length - 10))).toBe(true);
    expect((await readAll(h.content, 'ns1', digest, data.length)).data.length).toBe(0);
    await code(readAll(h.content, 'ns1', digest, data.length + 1), Code.OUT_OF_RANGE);

    // the blob file is read-only and the ingest is gone
    expect((fs.statSync(h.store.blobPath(digest)).mode & 0o777).toString(8)).toBe('444');
    expect(ingestDirs()).toEqual([]);
    await code(status('ns1', 'ref-a'), Code.NOT_FOUND);

    // other namespaces do not see it
    await code(info('ns2', digest), Code.NOT_FOUND, /not found/);
    await code(readAll(h.content, 'ns2', digest), Code.NOT_FOUND);
    await code(info('ns1', 'sha256:nothex'), Code.INVALID_ARGUMENT);
    await code(
      rpc((cb) => h.content.info({ digest }, new Metadata(), cb)),
      Code.INVALID_ARGUMENT,
      /namespace/,
    );
  });

  test('labels: update by field path, replace, remove; other fields refused', async () => {
    const digest = sha('labels');
    await upload(h.content, 'ns', 'r', Buffer.from('labels'), { labels: { a: '1', b: '2' } });
    expect((await update('ns', digest, { b: '3', c: '4', a: 'ignored' }, ['labels.b', 'labels.c'])).info?.labels).toEqual({ a: '1', b: '3', c: '4' });
    expect((await update('ns', digest, {}, ['labels.a'])).info?.labels).toEqual({ b: '3', c: '4' });
    expect((await update('ns', digest, { z: '9' }, ['labels'])).info?.labels).toEqual({ z: '9' });
    expect((await update('ns', digest, { y: '8' }, [])).info?.labels).toEqual({ y: '8' });
    const after = (await info('ns', digest)).info!;
    expect(after.labels).toEqual({ y: '8' });
    expect(after.updatedAt!.seconds * 1_000_000_000n + BigInt(after.updatedAt!.nanos)).toBeGreaterThanOrEqual(
      after.createdAt!.seconds * 1_000_000_000n + BigInt(after.createdAt!.nanos),
    );
    await code(update('ns', digest, {}, ['size']), Code.INVALID_ARGUMENT, /cannot update "size"/);
    await code(update('ns', sha('absent'), { a: 'b' }, ['labels.a']), Code.NOT_FOUND);
    await code(
      rpc((cb) => h.content.update({ updateMask: [] }, md('ns'), cb)),
      Code.INVALID_ARGUMENT,
    );
  });

  test('list with filters over digest, size and labels', async () => {
    const a = Buffer.from('aaaa');
    const b = Buffer.from('bbbbbbbb');
    await upload(h.content, 'ns', 'ra', a, { labels: { kind: 'layer', 'io.example/k': 'x' } });
    await upload(h.content, 'ns', 'rb', b, { labels: { kind: 'config' } });
    await upload(h.content, 'other', 'rc', Buffer.from('cc'));
    const digests = async (...filters: string[]) => (await listAll(h.content, 'ns', filters)).map((i) => i.digest).sort();
    expect(await digests()).toEqual([sha(a), sha(b)].sort());
    expect(await digests(`digest==${sha(a)}`)).toEqual([sha(a)]);
    expect(await digests('size==8')).toEqual([sha(b)]);
    expect(await digests('labels.kind==layer')).toEqual([sha(a)]);
    expect(await digests('labels."io.example/k"')).toEqual([sha(a)]);
    expect(await digests('labels.kind!=layer')).toEqual([sha(b)]);
    expect(await digests('labels.kind~=^con')).toEqual([sha(b)]);
    expect(await digests('labels.kind==layer,size==8')).toEqual([]);
    expect(await digests('labels.kind==layer', 'size==8')).toEqual([sha(a), sha(b)].sort());
    await code(listAll(h.content, 'ns', ['labels.kind==']), Code.INVALID_ARGUMENT, /invalid filter/);
    const one = (await listAll(h.content, 'ns', [`digest==${sha(b)}`]))[0]!;
    expect(one).toMatchObject({ size: 8n, labels: { kind: 'config' } });
  });

  test('delete: per namespace, the file goes with the last reference; /content/delete published', async () => {
    const data = Buffer.from('shared blob');
    const digest = sha(data);
    await upload(h.content, 'ns1', 'r1', data);
    const inode = fs.statSync(h.store.blobPath(digest)).ino;
    // already on disk: the second namespace's commit only adds its record
    const c2 = await upload(h.content, 'ns2', 'r2', data);
    expect(c2.digest).toBe(digest);
    expect(fs.statSync(h.store.blobPath(digest)).ino).toBe(inode);
    expect(blobFiles()).toEqual([digest.slice(7)]);

    await del('ns1', digest);
    await code(info('ns1', digest), Code.NOT_FOUND);
    expect(fs.existsSync(h.store.blobPath(digest))).toBe(true);
    expect((await readAll(h.content, 'ns2', digest)).data.equals(data)).toBe(true);
    await code(del('ns1', digest), Code.NOT_FOUND, /not found/);

    await del('ns2', digest);
    expect(fs.existsSync(h.store.blobPath(digest))).toBe(false);
    expect(blobFiles()).toEqual([]);

    const deletes = h.published.filter((e) => e.topic === '/content/delete');
    expect(deletes.map((e) => [e.namespace, unpackAny(e.event, 'containerd.events.ContentDelete', events.ContentDelete)?.digest])).toEqual([
      ['ns1', digest],
      ['ns2', digest],
    ]);
  });

  test('committing what the namespace already has is ALREADY_EXISTS and leaves no ingest', async () => {
    const data = Buffer.from('twice');
    await upload(h.content, 'ns', 'r1', data);
    await code(upload(h.content, 'ns', 'r2', data), Code.ALREADY_EXISTS, /already exists/);
    expect(ingestDirs()).toEqual([]);
    // with the digest announced up front, the first message already says so
    await code(upload(h.content, 'ns', 'r3', data, { expected: sha(data) }), Code.ALREADY_EXISTS, /exists/);
    expect(ingestDirs()).toEqual([]);
  });

  test('wrong expected digest: FAILED_PRECONDITION, nothing visible, nothing in blobs/, ingest kept', async () => {
    const data = Buffer.from('the real bytes');
    const wrong = sha('other bytes');
    await code(upload(h.content, 'ns', 'bad', data, { expected: wrong }), Code.FAILED_PRECONDITION, /unexpected commit digest/);
    await code(info('ns', wrong), Code.NOT_FOUND);
    await code(info('ns', sha(data)), Code.NOT_FOUND);
    expect(await listAll(h.content, 'ns')).toEqual([]);
    expect(blobFiles()).toEqual([]);
    expect((await status('ns', 'bad')).status).toMatchObject({ ref: 'bad', offset: BigInt(data.length), expected: wrong });
    await abort('ns', 'bad');
    expect(ingestDirs()).toEqual([]);
  });

  test('truncated upload: commit with a larger size fails, the ingest stays and resumes', async () => {
    const data = randomBytes(300_000);
    const digest = sha(data);
    const s = new WriteSession(h.content, md('ns'));
    await s.stat('trunc', 0, '');
    await s.write(0, data.subarray(0, 100_000));
    await code(s.commit(100_000, data.length, digest), Code.FAILED_PRECONDITION, /unexpected commit size 100000, expected 300000/);
    await s.close();
    expect(blobFiles()).toEqual([]);
    await code(info('ns', digest), Code.NOT_FOUND);
    expect((await status('ns', 'trunc')).status?.offset).toBe(100_000n);
    // the next upload on the same ref picks up at 100000
    const c = await upload(h.content, 'ns', 'trunc', data, { expected: digest });
    expect(c.digest).toBe(digest);
    expect((await readAll(h.content, 'ns', digest)).data.equals(data)).toBe(true);
  });

  test('resume: write half, close the stream, reopen the ref, STAT shows the offset, finish', async () => {
    const data = randomBytes(1_500_000);
    const digest = sha(data);
    const half = 700_000;
    const s1 = new WriteSession(h.content, md('ns'));
    const first = await s1.stat('resume-me', data.length, digest);
    expect(first.offset).toBe(0n);
    await s1.write(0, data.subarray(0, half));
    await s1.close();

    const st = (await status('ns', 'resume-me')).status!;
    expect(st).toMatchObject({ ref: 'resume-me', offset: BigInt(half), total: BigInt(data.length), expected: digest });
    const listed = (await rpc<content.ListStatusesResponse>((cb) => h.content.listStatuses({ filters: ['ref==resume-me'] }, md('ns'), cb))).statuses;
    expect(listed.map((x) => x.ref)).toEqual(['resume-me']);
    expect((await rpc<content.ListStatusesResponse>((cb) => h.content.listStatuses({ filters: ['ref==nope'] }, md('ns'), cb))).statuses).toEqual([]);
    expect((await rpc<content.ListStatusesResponse>((cb) => h.content.listStatuses({ filters: [] }, md('other'), cb))).statuses).toEqual([]);

    const s2 = new WriteSession(h.content, md('ns'));
    const again = await s2.stat('resume-me', data.length, digest);
    expect(again).toMatchObject({ offset: BigInt(half), total: BigInt(data.length), digest: sha(data.subarray(0, half)) });
    await s2.write(half, data.subarray(half));
    const c = await s2.commit(data.length, data.length, digest);
    expect(c).toMatchObject({ digest, offset: BigInt(data.length) });
    await s2.close();
    expect((await readAll(h.content, 'ns', digest)).data.equals(data)).toBe(true);
    expect(ingestDirs()).toEqual([]);
  });

  test("WRITE at offset 0 over written data restarts the ingest (the proxy client's Truncate(0))", async () => {
    const s = new WriteSession(h.content, md('ns'));
    await s.stat('restart');
    await s.write(0, Buffer.from('garbage'));
    const r = await s.write(0, Buffer.from('good'));
    expect(r.offset).toBe(4n);
    const c = await s.commit(4, 4, sha('good'));
    expect(c.digest).toBe(sha('good'));
    await s.close();
  });

  test('abort removes the ingest; abort of nothing is NOT_FOUND', async () => {
    const s = new WriteSession(h.content, md('ns'));
    await s.stat('gone', 10);
    await s.write(0, Buffer.from('12345'));
    await s.close();
    expect(ingestDirs().length).toBe(1);
    await abort('ns', 'gone');
    expect(ingestDirs()).toEqual([]);
    await code(status('ns', 'gone'), Code.NOT_FOUND);
    await code(abort('ns', 'gone'), Code.NOT_FOUND);
    // a new writer on the ref starts from scratch
    const s2 = new WriteSession(h.content, md('ns'));
    expect((await s2.stat('gone')).offset).toBe(0n);
    await s2.close();
  });

  test('a second concurrent writer on the same ref is refused with UNAVAILABLE; released on close', async () => {
    const s1 = new WriteSession(h.content, md('ns'));
    await s1.stat('busy');
    await s1.write(0, Buffer.from('abc'));
    const s2 = new WriteSession(h.content, md('ns'));
    await code(s2.stat('busy'), Code.UNAVAILABLE, /ref busy locked/);
    // the same ref in another namespace is another ingest
    const s3 = new WriteSession(h.content, md('ns-other'));
    expect((await s3.stat('busy')).offset).toBe(0n);
    await s3.close();
    await s1.close();
    const s4 = new WriteSession(h.content, md('ns'));
    expect((await s4.stat('busy')).offset).toBe(3n);
    await s4.close();
  });

  test('a dropped stream (client gone without closing) releases the ref', async () => {
    const s1 = new WriteSession(h.content, md('ns'));
    await s1.stat('dropped');
    await s1.write(0, Buffer.from('xyz'));
    (s1 as unknown as { stream: { cancel(): void } }).stream.cancel();
    const deadline = Date.now() + 5000;
    for (;;) {
      const s2 = new WriteSession(h.content, md('ns'));
      try {
        expect((await s2.stat('dropped')).offset).toBe(3n);
        await s2.close();
        break;
      } catch (e) {
        if ((e as ServiceError).code !== Code.UNAVAILABLE || Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  });

  test('protocol errors: no ref, wrong offset, no namespace', async () => {
    const s = new WriteSession(h.content, md('ns'));
    await code(s.stat(''), Code.INVALID_ARGUMENT, /reference/);
    const s2 = new WriteSession(h.content, md('ns'));
    await s2.stat('off');
    await s2.write(0, Buffer.from('abcd'));
    await code(s2.write(2, Buffer.from('zz')), Code.OUT_OF_RANGE, /write @2 must occur at current offset 4/);
    // the ingest survives the failed stream
    expect((await status('ns', 'off')).status?.offset).toBe(4n);
    const s3 = new WriteSession(h.content, new Metadata());
    await code(s3.stat('x'), Code.INVALID_ARGUMENT, /namespace/);
  });

  test('leases: the containerd-lease header reports the ingest, then the blob', async () => {
    const data = Buffer.from('leased');
    await upload(h.content, 'ns', 'leased-ref', data, { lease: 'lease-1' });
    expect(h.leaseCalls).toEqual([
      { op: 'add', ns: 'ns', lease: 'lease-1', resource: { id: 'leased-ref', type: 'ingests' } },
      { op: 'add', ns: 'ns', lease: 'lease-1', resource: { id: sha(data), type: 'content' } },
      { op: 'remove', ns: 'ns', lease: 'lease-1', resource: { id: 'leased-ref', type: 'ingests' } },
    ]);
    h.leaseCalls.length = 0;
    await upload(h.content, 'ns', 'plain', Buffer.from('no lease'));
    expect(h.leaseCalls).toEqual([]);
  });

  test('namespace delete is refused while it holds content', async () => {
    await upload(h.content, 'busy-ns', 'r', Buffer.from('x'));
    expect(
      (await rpc<{ namespaces: { name: string }[] }>((cb) => h.ns.list({ filter: '' }, namespaceMetadata('busy-ns'), cb))).namespaces.map((n) => n.name),
    ).toContain('busy-ns');
    await code(
      rpc((cb) => h.ns.delete({ name: 'busy-ns' }, namespaceMetadata('busy-ns'), cb)),
      Code.FAILED_PRECONDITION,
      /content/,
    );
  });
});
