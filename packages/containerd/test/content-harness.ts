/**
 * A gantry-containerd with the content service (plus namespaces, events, version, introspection) on
 * a temp unix socket over a temp root, for the content-*.test.ts suites; records every lease hook call.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { credentials, type Metadata, Server, ServerCredentials, type ClientDuplexStream } from '@grpc/grpc-js';
import { content, events, introspection, namespaceMetadata, namespaces, version, type protobuf } from '@gantry/api';
import { LocalContentStore } from '../src/content/local-store';
import type { DaemonContext } from '../src/context';
import { decodeEvent } from '../src/events/decode';
import type { EventEnvelope } from '../src/events/exchange';
import { Logger } from '@gantry/linux';
import { RecordStore } from '@gantry/linux';
import { contentService, type LeaseResource } from '../src/services/content';
import { eventsService } from '../src/services/events';
import { introspectionService } from '../src/services/introspection';
import { namespacesService } from '../src/services/namespaces';
import { versionService } from '../src/services/version';
import { CountingExchange } from './services-harness';

interface LeaseCall {
  op: 'add' | 'remove';
  ns: string;
  lease: string;
  resource: LeaseResource;
}

export interface ContentHarness {
  dir: string;
  root: string;
  sock: string;
  ctx: DaemonContext;
  store: LocalContentStore;
  content: content.ContentClient;
  ns: namespaces.NamespacesClient;
  published: EventEnvelope[];
  leaseCalls: LeaseCall[];
  close(): Promise<void>;
}

export async function startContentHarness(): Promise<ContentHarness> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gantry-content-'));
  const sock = path.join(dir, 'containerd.sock');
  const root = path.join(dir, 'root');
  const exchange = new CountingExchange(decodeEvent);
  const published: EventEnvelope[] = [];
  const ctx: DaemonContext = {
    log: new Logger('error'),
    store: new RecordStore(path.join(root, 'metadata')),
    exchange,
    publish: (namespace: string, topic: string, event: protobuf.Any) => {
      const env = { timestamp: new Date(), namespace, topic, event };
      published.push(env);
      exchange.publish(env);
    },
    root,
    state: path.join(dir, 'state'),
    address: sock,
  };
  const store = new LocalContentStore(root, ctx.store);
  const leaseCalls: LeaseCall[] = [];
  const server = new Server();
  server.addService(
    content.ContentService,
    contentService(ctx, store, {
      onLeaseResource: (ns, lease, resource) => void leaseCalls.push({ op: 'add', ns, lease, resource }),
      onLeaseResourceRemoved: (ns, lease, resource) => void leaseCalls.push({ op: 'remove', ns, lease, resource }),
    }),
  );
  server.addService(namespaces.NamespacesService, namespacesService(ctx));
  server.addService(events.EventsService, eventsService(ctx));
  server.addService(version.VersionService, versionService(ctx));
  server.addService(introspection.IntrospectionService, introspectionService(ctx));
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${sock}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  const target = `unix://${sock}`;
  const clients = {
    content: new content.ContentClient(target, credentials.createInsecure()),
    ns: new namespaces.NamespacesClient(target, credentials.createInsecure()),
  };
  return {
    dir,
    root,
    sock,
    ctx,
    store,
    published,
    leaseCalls,
    ...clients,
    close: async () => {
      Object.values(clients).forEach((c) => c.close());
      await new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => server.forceShutdown(), 1000).unref();
      });
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function md(ns: string, lease?: string): Metadata {
  const m = namespaceMetadata(ns);
  if (lease) m.set('containerd-lease', lease);
  return m;
}

/** A Write stream driven one request/response at a time, as containerd's proxy client does. */
export class WriteSession {
  private readonly stream: ClientDuplexStream<content.WriteContentRequest, content.WriteContentResponse>;
  private readonly queue: content.WriteContentResponse[] = [];
  private waiting: ((r: content.WriteContentResponse | Error) => void) | undefined;
  private error: Error | undefined;
  private ended = false;

  constructor(client: content.ContentClient, metadata: Metadata) {
    this.stream = client.write(metadata);
    this.stream.on('data', (r: content.WriteContentResponse) => this.deliver(r));
    this.stream.on('error', (e: Error) => {
      this.error = e;
      this.deliver(e);
    });
    this.stream.on('end', () => {
      this.ended = true;
      this.deliver(new Error('stream ended'));
    });
  }

  private deliver(r: content.WriteContentResponse | Error): void {
    const w = this.waiting;
    if (w) {
      this.waiting = undefined;
      w(r);
    } else if (!(r instanceof Error)) {
      this.queue.push(r);
    }
  }

  /** Send one request and wait for its response (rejects with the stream's status error). */
  send(req: Partial<content.WriteContentRequest>): Promise<content.WriteContentResponse> {
    return new Promise((resolve, reject) => {
      const queued = this.queue.shift();
      if (queued) return resolve(queued);
      if (this.error) return reject(this.error);
      if (this.ended) return reject(new Error('stream ended'));
      this.waiting = (r) => (r instanceof Error ? reject(this.error ?? r) : resolve(r));
      this.stream.write(content.WriteContentRequest.fromPartial(req));
    });
  }

  stat(ref?: string, total = 0, expected = ''): Promise<content.WriteContentResponse> {
    return this.send({ action: content.WriteAction.STAT, ref: ref ?? '', total: BigInt(total), expected });
  }

  write(offset: number, data: Buffer): Promise<content.WriteContentResponse> {
    return this.send({ action: content.WriteAction.WRITE, offset: BigInt(offset), data });
  }

  commit(offset: number, size: number, expected = '', labels: Record<string, string> = {}): Promise<content.WriteContentResponse> {
    return this.send({ action: content.WriteAction.COMMIT, offset: BigInt(offset), total: BigInt(size), expected, labels });
  }

  /** Half-close (the proxy client's Close) and wait for the server to finish the call. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.ended || this.error) return resolve();
      this.stream.on('end', () => resolve());
      this.stream.on('error', () => resolve());
      this.stream.on('status', () => resolve());
      this.stream.end();
    });
  }
}

/** Upload a whole blob through Write as the proxy client does (STAT, WRITE chunks, COMMIT). */
export async function upload(
  client: content.ContentClient,
  ns: string,
  ref: string,
  data: Buffer,
  opts: { expected?: string; labels?: Record<string, string>; chunk?: number; lease?: string } = {},
): Promise<content.WriteContentResponse> {
  const s = new WriteSession(client, md(ns, opts.lease));
  try {
    const st = await s.stat(ref, data.length, opts.expected ?? '');
    let off = Number(st.offset);
    const chunk = opts.chunk ?? 64 * 1024;
    while (off < data.length) {
      const r = await s.write(off, data.subarray(off, off + chunk));
      off = Number(r.offset);
    }
    return await s.commit(off, data.length, opts.expected ?? '', opts.labels ?? {});
  } finally {
    await s.close();
  }
}

/** All bytes of a Read call, and the offsets of its messages. */
export function readAll(
  client: content.ContentClient,
  ns: string,
  digest: string,
  offset = 0,
  size = 0,
): Promise<{ data: Buffer; offsets: number[]; sizes: number[] }> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    const offsets: number[] = [];
    const sizes: number[] = [];
    const s = client.read({ digest, offset: BigInt(offset), size: BigInt(size) }, md(ns));
    s.on('data', (r: content.ReadContentResponse) => {
      parts.push(r.data);
      offsets.push(Number(r.offset));
      sizes.push(r.data.length);
    });
    s.on('error', reject);
    s.on('end', () => resolve({ data: Buffer.concat(parts), offsets, sizes }));
  });
}

export function listAll(client: content.ContentClient, ns: string, filters: string[] = []): Promise<content.Info[]> {
  return new Promise((resolve, reject) => {
    const out: content.Info[] = [];
    const s = client.list({ filters }, md(ns));
    s.on('data', (r: content.ListContentResponse) => out.push(...r.info));
    s.on('error', reject);
    s.on('end', () => resolve(out));
  });
}
