/**
 * The Diff gRPC service over a real server and generated client: Apply a blob from a (test)
 * content store onto bind and overlay mounts, Diff two mount sets into the store. Needs root
 * (mounts).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync, gzipSync } from 'node:zlib';
import { credentials, Metadata, Server, ServerCredentials, status, type ServiceError } from '@grpc/grpc-js';
import { diff, type protobuf } from '@gantry/api';
import type { ContentInfo, ContentStore, ContentWriter, IngestStatus } from '../src/content/types';
import type { DaemonContext } from '../src/context';
import { errdefs } from '@gantry/linux';
import { notFound } from '../src/errors';
import { Exchange } from '../src/events/exchange';
import { decodeEvent } from '../src/events/decode';
import { Logger } from '@gantry/linux';
import { RecordStore } from '@gantry/linux';
import { diffService, UNCOMPRESSED_LABEL } from '../src/services/diff';
import { makeTar, sh, sha256, tmpDir } from './diff-helpers';
import { describeIf, needRoot } from '@gantry/testkit';

/** Just enough of a content store: blobs in memory, per-namespace visibility and labels. */
class MemoryContent implements ContentStore {
  readonly bytes = new Map<string, Buffer>();
  readonly infos = new Map<string, ContentInfo>();
  add(ns: string, data: Buffer): string {
    const digest = sha256(data);
    this.bytes.set(digest, data);
    this.infos.set(`${ns}/${digest}`, { digest, size: data.length, createdAt: new Date(), updatedAt: new Date(), labels: {} });
    return digest;
  }
  info(ns: string, digest: string): ContentInfo {
    const i = this.infos.get(`${ns}/${digest}`);
    if (!i) throw notFound(`content ${digest}: not found`);
    return i;
  }
  read(ns: string, digest: string): Readable {
    this.info(ns, digest);
    const b = this.bytes.get(digest)!;
    return Readable.from([b.subarray(0, 100), b.subarray(100)]);
  }
  async writer(ns: string, ref: string): Promise<ContentWriter> {
    const parts: Buffer[] = [];
    return {
      ref,
      get offset() {
        return parts.reduce((n, p) => n + p.length, 0);
      },
      digest: () => sha256(Buffer.concat(parts)),
      async write(d: Buffer) {
        parts.push(Buffer.from(d));
      },
      async truncate() {
        throw new Error('unused');
      },
      commit: async (size: number, expected: string, labels: Record<string, string> = {}) => {
        const data = Buffer.concat(parts);
        if (data.length !== size || sha256(data) !== expected) throw errdefs.failedPrecondition('size or digest mismatch');
        if (this.infos.has(`${ns}/${expected}`)) throw errdefs.alreadyExists(`content ${expected}: already exists`);
        const digest = this.add(ns, data);
        const info = { ...this.info(ns, digest), labels };
        this.infos.set(`${ns}/${digest}`, info);
        return info;
      },
      status: () => ({}) as IngestStatus,
      async close() {},
    };
  }
  aborted: string[] = [];
  abort(_ns: string, ref: string): void {
    this.aborted.push(ref);
  }
  update(ns: string, info: Pick<ContentInfo, 'digest' | 'labels'>, fieldpaths: string[]): ContentInfo {
    const cur = this.info(ns, info.digest);
    const labels = { ...cur.labels };
    for (const f of fieldpaths) labels[f.slice('labels.'.length)] = info.labels[f.slice('labels.'.length)]!;
    const next = { ...cur, labels };
    this.infos.set(`${ns}/${info.digest}`, next);
    return next;
  }
  blobs(): string[] {
    return [...this.bytes.keys()];
  }
  list(): ContentInfo[] {
    return [];
  }
  delete(): void {}
  blobPath(): string {
    throw new Error('unused');
  }
  status(): IngestStatus {
    throw new Error('unused');
  }
  listStatuses(): IngestStatus[] {
    return [];
  }
  namespaces(): string[] {
    return [];
  }
}

const call = <Req, Res>(
  fn: (req: Req, md: Metadata, cb: (e: ServiceError | null, r?: Res) => void) => void,
  req: Req,
  ns = 'default',
  lease?: string,
): Promise<Res> => {
  const md = new Metadata();
  if (ns) md.set('containerd-namespace', ns);
  if (lease) md.set('containerd-lease', lease);
  return new Promise((resolve, reject) => fn(req, md, (e, r) => (e ? reject(e) : resolve(r!))));
};

describeIf(needRoot())('Diff service (root)', () => {
  let dir: string;
  let server: Server;
  let client: diff.DiffClient;
  let content: MemoryContent;
  const leased: string[] = [];

  beforeAll(async () => {
    dir = tmpDir('gantry-diffsvc-');
    const exchange = new Exchange(decodeEvent);
    const ctx: DaemonContext = {
      log: new Logger('error'),
      store: new RecordStore(path.join(dir, 'root', 'metadata')),
      exchange,
      publish: (namespace: string, topic: string, event: protobuf.Any) => exchange.publish({ timestamp: new Date(), namespace, topic, event }),
      root: path.join(dir, 'root'),
      state: path.join(dir, 'state'),
      address: path.join(dir, 'sock'),
    };
    content = new MemoryContent();
    server = new Server();
    const onLeaseResource = (ns: string, lease: string, r: { id: string; type: string }) => void leased.push(`${ns}/${lease}/${r.type}/${r.id}`);
    server.addService(diff.DiffService, diffService(ctx, { content, onLeaseResource }));
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix://${ctx.address}`, ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())),
    );
    client = new diff.DiffClient(`unix://${ctx.address}`, credentials.createInsecure());
  });
  afterAll(async () => {
    client.close();
    await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const apply = (req: diff.ApplyRequest, ns?: string) => call<diff.ApplyRequest, diff.ApplyResponse>(client.apply.bind(client), req, ns);
  const compare = (req: diff.DiffRequest, lease?: string) => call<diff.DiffRequest, diff.DiffResponse>(client.diff.bind(client), req, 'default', lease);

  test('Apply a gzip layer onto a bind mount, then a second one through an overlay', async () => {
    const layer1 = makeTar([
      { name: 'etc/', type: '5' },
      { name: 'etc/hosts', data: 'hosts' },
      { name: 'etc/old', data: 'old' },
    ]);
    const blob1 = gzipSync(layer1);
    const d1 = content.add('default', blob1);
    const snap1 = fs.mkdtempSync(path.join(dir, 'snap1-'));
    const r1 = await apply({
      diff: { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d1, size: BigInt(blob1.length), annotations: {} },
      mounts: [{ type: 'bind', source: snap1, target: '', options: ['rbind', 'rw'] }],
      payloads: {},
    });
    expect(r1.applied).toEqual({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(layer1), size: BigInt(layer1.length), annotations: {} });
    expect(fs.readFileSync(path.join(snap1, 'etc', 'hosts'), 'utf8')).toBe('hosts');

    const layer2 = makeTar([{ name: 'etc/.wh.old' }, { name: 'etc/new', data: 'new' }]);
    const d2 = content.add('default', layer2);
    const upper = fs.mkdtempSync(path.join(dir, 'upper-'));
    const work = fs.mkdtempSync(path.join(dir, 'work-'));
    await apply({
      diff: { mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: d2, size: BigInt(layer2.length), annotations: {} },
      mounts: [{ type: 'overlay', source: 'overlay', target: '', options: [`lowerdir=${snap1}`, `upperdir=${upper}`, `workdir=${work}`] }],
      payloads: {},
    });
    expect(fs.readFileSync(path.join(upper, 'etc', 'new'), 'utf8')).toBe('new');
    expect(fs.lstatSync(path.join(upper, 'etc', 'old')).isCharacterDevice()).toBe(true); // overlay's own whiteout
    expect(fs.readFileSync(path.join(snap1, 'etc', 'old'), 'utf8')).toBe('old'); // the lower is untouched
    expect(fs.readdirSync(path.join(dir, 'root', 'tmpmounts'))).toEqual([]); // unmounted and removed

    // Diff of the two (overlay fast path): gzip blob with the uncompressed label
    const res = await compare({
      left: [{ type: 'bind', source: snap1, target: '', options: ['rbind', 'ro'] }],
      right: [{ type: 'overlay', source: 'overlay', target: '', options: [`lowerdir=${snap1}`, `upperdir=${upper}`, `workdir=${work}`] }],
      mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
      ref: 'test-diff',
      labels: { extra: 'label' },
    });
    const blob = content.bytes.get(res.diff!.digest)!;
    expect(res.diff!.size).toBe(BigInt(blob.length));
    expect(res.diff!.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+gzip');
    const tar = gunzipSync(blob);
    const info = content.info('default', res.diff!.digest);
    expect(info.labels).toEqual({ extra: 'label', [UNCOMPRESSED_LABEL]: `sha256:${createHash('sha256').update(tar).digest('hex')}` });
    const f = path.join(dir, 'd.tar');
    fs.writeFileSync(f, tar);
    expect(sh('tar', ['-tf', f]).trim().split('\n')).toEqual(['etc/', 'etc/new', 'etc/.wh.old']);

    // the same diff uncompressed, the generic walk (no left mounts: everything is new)
    const plain = await compare({
      left: [],
      right: [{ type: 'bind', source: snap1, target: '', options: ['rbind'] }],
      mediaType: 'application/vnd.oci.image.layer.v1.tar',
      ref: '',
      labels: {},
    });
    const ptar = content.bytes.get(plain.diff!.digest)!;
    expect(content.info('default', plain.diff!.digest).labels[UNCOMPRESSED_LABEL]).toBe(plain.diff!.digest);
    fs.writeFileSync(f, ptar);
    expect(sh('tar', ['-tf', f]).trim().split('\n')).toEqual(['etc/', 'etc/hosts', 'etc/old']);
    expect(fs.readdirSync(path.join(dir, 'root', 'tmpmounts'))).toEqual([]);
  });

  test('a Diff under a lease puts its blob in the lease; a blob stored before without the uncompressed label gets it', async () => {
    const snap = fs.mkdtempSync(path.join(dir, 'snap-'));
    fs.writeFileSync(path.join(snap, 'f'), 'leased');
    const req = { left: [], right: [{ type: 'bind', source: snap, target: '', options: ['rbind'] }], mediaType: '', ref: '', labels: {} };
    const first = await compare(req, 'build-lease');
    const digest = first.diff!.digest;
    expect(leased).toEqual([`default/build-lease/content/${digest}`]);
    const uncompressed = content.info('default', digest).labels[UNCOMPRESSED_LABEL];
    expect(uncompressed).toMatch(/^sha256:[0-9a-f]{64}$/);

    // as a pull stores a layer: the same bytes, no labels yet
    content.infos.set(`default/${digest}`, { ...content.info('default', digest), labels: {} });
    const again = await compare(req);
    expect(again.diff!.digest).toBe(digest);
    expect(content.info('default', digest).labels).toEqual({ [UNCOMPRESSED_LABEL]: uncompressed });
    expect(leased).toHaveLength(1); // no lease on that call, nothing added
  });

  test('errors: media types, missing blob, hostile layer, no namespace', async () => {
    const snap = fs.mkdtempSync(path.join(dir, 'snap-'));
    const mounts = [{ type: 'bind', source: snap, target: '', options: ['rbind'] }];
    const d = content.add('default', makeTar([{ name: 'f', data: 'x' }]));
    const desc = (mediaType: string, digest = d) => ({ mediaType, digest, size: 0n, annotations: {} });
    await expect(apply({ diff: desc('application/vnd.oci.image.config.v1+json'), mounts, payloads: {} })).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
    });
    await expect(apply({ diff: desc('application/vnd.oci.image.layer.v1.tar+zstd'), mounts, payloads: {} })).rejects.toMatchObject({
      code: status.UNIMPLEMENTED,
    });
    await expect(apply({ diff: desc('application/vnd.oci.image.layer.v1.tar', sha256('nope')), mounts, payloads: {} })).rejects.toMatchObject({
      code: status.NOT_FOUND,
    });
    await expect(apply({ diff: desc('application/vnd.oci.image.layer.v1.tar'), mounts: [], payloads: {} })).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
    });
    await expect(apply({ diff: desc('application/vnd.oci.image.layer.v1.tar'), mounts, payloads: {} }, '')).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
    });
    const hostile = content.add('default', makeTar([{ name: '../../../escape', data: 'x' }]));
    await expect(apply({ diff: desc('application/vnd.oci.image.layer.v1.tar', hostile), mounts, payloads: {} })).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: expect.stringContaining('escapes the extraction root'),
    });
    expect(fs.readdirSync(path.join(dir, 'root', 'tmpmounts'))).toEqual([]);
    await expect(compare({ left: [], right: mounts, mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd', ref: '', labels: {} })).rejects.toMatchObject({
      code: status.UNIMPLEMENTED,
    });
    // a failing mount: the ingest is aborted
    await expect(
      compare({
        left: [],
        right: [{ type: 'bind', source: path.join(dir, 'missing'), target: '', options: ['rbind'] }],
        mediaType: '',
        ref: 'doomed',
        labels: {},
      }),
    ).rejects.toMatchObject({ code: status.UNKNOWN });
    expect(content.aborted).toContain('doomed');
  });
});
