/**
 * gantry-containerd's stores seen through its gRPC API (Content, Images, Leases, Snapshots, Diff),
 * in one namespace and, when given, under one lease (header `containerd-lease`) so that garbage
 * collection keeps what a pull wrote until the image record and GC labels hold it.
 */
import { createHash } from 'node:crypto';
import { type ClientDuplexStream, type Metadata } from '@grpc/grpc-js';
import { errdefs } from '@gantry/linux';
import { callMetadata, content, unaryCall, type diff, type images, type leases, type snapshots, types, type UnaryMethod } from '@gantry/api';
import { RegistryError } from './errors';

export interface StoreClients {
  content: content.ContentClient;
  images: images.ImagesClient;
  leases: leases.LeasesClient;
  snapshots: snapshots.SnapshotsClient;
  diff: diff.DiffClient;
}

export interface BlobDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

const EXPIRE_LABEL = 'containerd.io/gc.expire';
/**
 * Unary calls wait for gantry-containerd while it restarts (waitForReady), so each has a bound: a
 * minute for bookkeeping calls, an hour for applying a layer (a large layer on a slow disk).
 * Streams do not wait: a pull or push that finds the daemon gone midway fails and is retried.
 */
const CALL_TIMEOUT_MS = 60_000;
const APPLY_TIMEOUT_MS = 3600_000;
/** Content Write message size: well under gRPC's 4 MiB default. */
const WRITE_CHUNK = 1024 * 1024;

export class ContainerdStore {
  constructor(
    readonly clients: StoreClients,
    readonly namespace: string,
    readonly snapshotter = 'overlayfs',
    readonly lease?: string,
  ) {}

  /** The same store, every call made under `lease`. */
  withLease(lease: string): ContainerdStore {
    return new ContainerdStore(this.clients, this.namespace, this.snapshotter, lease);
  }

  metadata(waitForReady = false): Metadata {
    return callMetadata({ namespace: this.namespace, headers: this.lease ? { 'containerd-lease': this.lease } : {}, waitForReady });
  }

  call<Req, Res>(client: object, method: UnaryMethod<Req, Res>, req: Req, timeoutMs = CALL_TIMEOUT_MS): Promise<Res> {
    return unaryCall(client, method, req, this.metadata(true), timeoutMs);
  }

  // --- leases ---

  async createLease(id: string, ttlMs = 3600_000): Promise<string> {
    const c = this.clients.leases;
    const res = await this.call<leases.CreateRequest, leases.CreateResponse>(c, c.create, {
      id,
      labels: { [EXPIRE_LABEL]: new Date(Date.now() + ttlMs).toISOString() },
    });
    return res.lease?.id ?? id;
  }

  async deleteLease(id: string): Promise<void> {
    const c = this.clients.leases;
    await this.call(c, c.delete, { id, sync: true }).catch((e: unknown) => {
      if (!errdefs.isNotFound(e)) throw e;
    });
  }

  // --- content ---

  /** The blob's info, or undefined when the store does not have it. */
  async info(digest: string): Promise<content.Info | undefined> {
    const c = this.clients.content;
    try {
      return (await this.call<content.InfoRequest, content.InfoResponse>(c, c.info, { digest })).info;
    } catch (e) {
      if (errdefs.isNotFound(e)) return undefined;
      throw e;
    }
  }

  async setLabels(digest: string, labels: Record<string, string>): Promise<void> {
    const c = this.clients.content;
    const info = content.Info.fromPartial({ digest, labels });
    await this.call(c, c.update, { info, updateMask: Object.keys(labels).map((k) => `labels.${k}`) });
  }

  /** The blob's bytes, chunk by chunk. */
  async *read(digest: string, offset = 0): AsyncGenerator<Buffer> {
    const stream = this.clients.content.read({ digest, offset: BigInt(offset), size: 0n }, this.metadata());
    for await (const m of stream as AsyncIterable<content.ReadContentResponse>) yield m.data;
  }

  async readAll(digest: string, limit = 8 * 1024 * 1024): Promise<Buffer> {
    const parts: Buffer[] = [];
    let n = 0;
    for await (const b of this.read(digest)) {
      n += b.length;
      if (n > limit) throw new RegistryError('invalid', `content ${digest} is larger than ${limit} bytes`);
      parts.push(b);
    }
    return Buffer.concat(parts);
  }

  /** Store a small document (manifest, index, config) whose bytes are known. */
  async writeBlob(desc: { digest: string }, data: Buffer, labels: Record<string, string> = {}): Promise<void> {
    const sum = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    if (sum !== desc.digest) throw new RegistryError('digest', `content digest ${sum} does not match the expected ${desc.digest}`);
    const ref = `doc-${desc.digest}-${Math.random().toString(16).slice(2, 8)}`;
    const w = await this.openWriter(ref, desc.digest, data.length);
    if (!w) {
      if (Object.keys(labels).length > 0) await this.setLabels(desc.digest, labels);
      return;
    }
    await w.write(data);
    await w.commit(labels);
  }

  /**
   * An ingest for `expected` (undefined when the store has the blob already). Writes go through
   * the Write stream with flow control; commit checks size and digest on the server too.
   */
  async openWriter(ref: string, expected: string, total: number): Promise<ContentWriter | undefined> {
    if (await this.info(expected)) return undefined;
    return new ContentWriter(this.clients.content.write(this.metadata()), ref, expected, total);
  }

  /** Drop an ingest; the server releases a cancelled Write stream's writer asynchronously, so a busy ingest is tried again. */
  async abort(ref: string): Promise<void> {
    const c = this.clients.content;
    for (let i = 0; i < 50; i++) {
      try {
        await this.call(c, c.abort, { ref });
        return;
      } catch (e) {
        if (errdefs.isNotFound(e)) return;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }

  /** Ingests in progress (refs). */
  async ingests(): Promise<string[]> {
    const c = this.clients.content;
    const res = await this.call<content.ListStatusesRequest, content.ListStatusesResponse>(c, c.listStatuses, { filters: [] });
    return res.statuses.map((s) => s.ref);
  }

  // --- images ---

  async getImage(name: string): Promise<images.Image | undefined> {
    const c = this.clients.images;
    try {
      return (await this.call<images.GetImageRequest, images.GetImageResponse>(c, c.get, { name })).image;
    } catch (e) {
      if (errdefs.isNotFound(e)) return undefined;
      throw e;
    }
  }

  async listImages(): Promise<images.Image[]> {
    const c = this.clients.images;
    return (await this.call<images.ListImagesRequest, images.ListImagesResponse>(c, c.list, { filters: [] })).images;
  }

  /** Create the record or point it at `target`; returns the digest it had before, if any. */
  async putImage(name: string, target: BlobDescriptor, labels: Record<string, string> = {}): Promise<string | undefined> {
    const c = this.clients.images;
    const t = types.Descriptor.fromPartial({
      mediaType: target.mediaType,
      digest: target.digest,
      size: BigInt(target.size),
      annotations: target.annotations ?? {},
    });
    const cur = await this.getImage(name);
    if (!cur) {
      try {
        await this.call(c, c.create, { image: { name, labels, target: t } });
        return undefined;
      } catch (e) {
        if (!errdefs.isAlreadyExists(e)) throw e;
      }
    }
    const before = cur?.target?.digest;
    if (before !== target.digest)
      await this.call(c, c.update, { image: { name, labels: { ...(cur?.labels ?? {}), ...labels }, target: t }, updateMask: ['target'] });
    return before;
  }

  // --- snapshots and diff ---

  async snapshotExists(key: string): Promise<boolean> {
    const c = this.clients.snapshots;
    try {
      await this.call(c, c.stat, { snapshotter: this.snapshotter, key });
      return true;
    } catch (e) {
      if (errdefs.isNotFound(e)) return false;
      throw e;
    }
  }

  /** Apply the layer blob `layer` on top of `parent` and commit it as `chainId`; returns the diff ID the layer unpacked to. */
  async unpackLayer(layer: BlobDescriptor, parent: string, chainId: string, expectedDiffId: string): Promise<void> {
    const sc = this.clients.snapshots;
    const key = `extract-${Date.now()}-${Math.random().toString(16).slice(2, 10)} ${chainId}`;
    const prep = await this.call<snapshots.PrepareSnapshotRequest, snapshots.PrepareSnapshotResponse>(sc, sc.prepare, {
      snapshotter: this.snapshotter,
      key,
      parent,
      labels: { 'containerd.io/snapshot.ref': chainId },
    });
    let committed = false;
    let keyLeft = true; // the active snapshot is still there (a commit consumes it)
    try {
      const dc = this.clients.diff;
      const res = await this.call<diff.ApplyRequest, diff.ApplyResponse>(
        dc,
        dc.apply,
        {
          diff: types.Descriptor.fromPartial({ mediaType: layer.mediaType, digest: layer.digest, size: BigInt(layer.size) }),
          mounts: prep.mounts,
          payloads: {},
        },
        APPLY_TIMEOUT_MS,
      );
      const got = res.applied?.digest;
      if (got !== expectedDiffId) throw new RegistryError('digest', `layer ${layer.digest} unpacks to ${got ?? '?'}, the image config says ${expectedDiffId}`);
      try {
        await this.call(sc, sc.commit, { snapshotter: this.snapshotter, name: chainId, key, labels: {} });
        keyLeft = false;
      } catch (e) {
        if (!errdefs.isAlreadyExists(e)) throw e; // a concurrent pull committed it first
      }
      committed = true;
    } finally {
      // not asked with a Stat after a commit that succeeded: one call less per layer on the pull's critical path
      if (!committed || keyLeft) await this.call(sc, sc.remove, { snapshotter: this.snapshotter, key }).catch(() => undefined);
    }
  }
}

/** One content ingest over a Write stream. */
export class ContentWriter {
  private offset = 0;
  private readonly responses: content.WriteContentResponse[] = [];
  private waiting: ((r: content.WriteContentResponse | Error) => void) | undefined;
  private failed: Error | undefined;
  private ended = false;

  constructor(
    private readonly call: ClientDuplexStream<content.WriteContentRequest, content.WriteContentResponse>,
    readonly ref: string,
    readonly expected: string,
    readonly total: number,
  ) {
    call.on('data', (r: content.WriteContentResponse) => {
      if (this.waiting) {
        const w = this.waiting;
        this.waiting = undefined;
        w(r);
      } else this.responses.push(r);
    });
    call.on('error', (e: Error) => {
      this.failed = e;
      const w = this.waiting;
      this.waiting = undefined;
      w?.(e);
    });
    call.on('end', () => {
      this.ended = true;
      const w = this.waiting;
      this.waiting = undefined;
      w?.(new Error('content write stream ended early'));
    });
  }

  private message(action: content.WriteAction, data: Buffer, labels: Record<string, string> = {}): content.WriteContentRequest {
    return {
      action,
      ref: this.ref,
      total: BigInt(this.total),
      expected: this.offset === 0 || action === content.WriteAction.COMMIT ? this.expected : '',
      offset: BigInt(this.offset),
      data,
      labels,
    };
  }

  private pending: Buffer[] = [];
  private pendingSize = 0;

  /** Buffer `data`; whole 1 MiB messages go out as they fill (small HTTP chunks would cost one message each). */
  async write(data: Buffer): Promise<void> {
    if (this.failed) throw this.failed;
    this.pending.push(data);
    this.pendingSize += data.length;
    if (this.pendingSize >= WRITE_CHUNK) await this.flush(false);
  }

  private async flush(all: boolean): Promise<void> {
    let buf = Buffer.concat(this.pending, this.pendingSize);
    this.pending = [];
    this.pendingSize = 0;
    while (buf.length >= WRITE_CHUNK || (all && buf.length > 0)) {
      const part = buf.subarray(0, WRITE_CHUNK);
      buf = buf.subarray(part.length);
      const ok = this.call.write(this.message(content.WriteAction.WRITE, part));
      this.offset += part.length;
      if (!ok) await new Promise<void>((resolve) => this.call.once('drain', resolve));
      // the server answers every message; drop answers so they do not pile up
      this.responses.length = 0;
      if (this.failed) throw this.failed;
    }
    if (buf.length > 0) {
      this.pending = [buf];
      this.pendingSize = buf.length;
    }
  }

  private next(): Promise<content.WriteContentResponse> {
    const r = this.responses.shift();
    if (r) return Promise.resolve(r);
    if (this.failed) return Promise.reject(this.failed);
    if (this.ended) return Promise.reject(new Error('content write stream ended early'));
    return new Promise((resolve, reject) => (this.waiting = (x) => (x instanceof Error ? reject(x) : resolve(x))));
  }

  /** Commit the ingest; a blob that appeared meanwhile (ALREADY_EXISTS) is success. */
  async commit(labels: Record<string, string> = {}): Promise<void> {
    await this.flush(true);
    this.responses.length = 0;
    this.call.write(this.message(content.WriteAction.COMMIT, Buffer.alloc(0), labels));
    try {
      for (;;) {
        const r = await this.next();
        if (r.action === content.WriteAction.COMMIT) break;
      }
    } catch (e) {
      if (!errdefs.isAlreadyExists(e)) throw e;
    } finally {
      this.call.end();
    }
  }

  cancel(): void {
    this.call.cancel();
  }
}
