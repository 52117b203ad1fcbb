/**
 * containerd.services.content.v1.Content over a ContentStore; publishes /content/delete.
 *
 * Write follows containerd's protocol as its content proxy client drives it: the first message
 * names the ref (and optionally total/expected) and opens — or resumes — the ingest, locking it for
 * the stream; every message is answered with one response carrying the action and the current
 * offset. STAT adds total, digest so far, started_at and updated_at; WRITE appends `data` at
 * `offset` (0 with data already written restarts the ingest; any other offset but the current one
 * is OUT_OF_RANGE); COMMIT writes any data, then verifies and commits with the latest total and
 * expected seen on the stream and answers with the digest. A message whose `expected` digest the
 * namespace already has aborts the ingest with ALREADY_EXISTS. The ingest stays when the stream ends
 * without a commit, so a later stream on the same ref resumes it.
 */
import { errdefs, span, traced, type Span } from '@gantry/linux';
import { type ServerDuplexStream, type ServerWritableStream } from '@grpc/grpc-js';
import { content, events, packAny, timestampFromDate, type protobuf } from '@gantry/api';
import type { ContentInfo, ContentStore, ContentWriter, IngestStatus } from '../content/types';
import { leaseOf } from '../content/lease-header';
import type { DaemonContext } from '../context';
import { invalidArgument, toServiceError } from '../errors';
import { requireNamespace, unary } from '../rpc';

/** A lease resource as containerd's leases service names them. */
export interface LeaseResource {
  /** A digest ("sha256:…") for 'content', the ingest's ref for 'ingests'. */
  id: string;
  type: 'content' | 'ingests';
}

export interface ContentServiceOptions {
  /**
   * A call under a lease (header `containerd-lease`) made or used a resource: an ingest when a
   * writer opens, a blob when a commit succeeds (or finds the blob already in the namespace). An
   * error thrown here fails the call (containerd refuses writes under an unknown lease).
   */
  onLeaseResource?(ns: string, leaseId: string, resource: LeaseResource): void | Promise<void>;
  /** The ingest of a leased call is gone (committed or aborted): the lease may drop it. */
  onLeaseResourceRemoved?(ns: string, leaseId: string, resource: LeaseResource): void | Promise<void>;
}

/** Infos per List message (containerd streams them in batches too). */
const LIST_BATCH = 100;

const ts = (d: Date): protobuf.Timestamp => timestampFromDate(d);

function toProtoInfo(i: ContentInfo): content.Info {
  return { digest: i.digest, size: BigInt(i.size), createdAt: ts(i.createdAt), updatedAt: ts(i.updatedAt), labels: { ...i.labels } };
}

function toProtoStatus(s: IngestStatus): content.Status {
  return { ref: s.ref, offset: BigInt(s.offset), total: BigInt(s.total), expected: s.expected, startedAt: ts(s.startedAt), updatedAt: ts(s.updatedAt) };
}

/** A uint64/int64 from the wire as a safe JS number. */
function num(what: string, v: bigint): number {
  if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) throw invalidArgument(`${what} ${v} is out of range`);
  return Number(v);
}

export function contentService(ctx: DaemonContext, store: ContentStore, opts: ContentServiceOptions = {}): content.ContentServer {
  const log = ctx.log.with({ service: 'content' });

  const failStream = (method: string, call: { emit(event: 'error', err: unknown): boolean }, e: unknown) => {
    const err = toServiceError(e);
    log.debug('request failed', { method, code: err.code, error: err.details });
    call.emit('error', err);
  };

  const exists = (ns: string, digest: string): boolean => {
    try {
      store.info(ns, digest);
      return true;
    } catch (e) {
      if (errdefs.isNotFound(e)) return false;
      throw e;
    }
  };

  return {
    info: unary(log, 'Info', (req: content.InfoRequest, md): content.InfoResponse => ({
      info: toProtoInfo(store.info(requireNamespace(md), req.digest)),
    })),

    update: unary(log, 'Update', (req: content.UpdateRequest, md): content.UpdateResponse => {
      const ns = requireNamespace(md);
      if (!req.info) throw invalidArgument('info must be set');
      return { info: toProtoInfo(store.update(ns, { digest: req.info.digest, labels: req.info.labels }, req.updateMask ?? [])) };
    }),

    list: (call: ServerWritableStream<content.ListContentRequest, content.ListContentResponse>) => {
      try {
        const infos = store.list(requireNamespace(call.metadata), call.request.filters).map(toProtoInfo);
        for (let i = 0; i < infos.length && !call.cancelled; i += LIST_BATCH) call.write({ info: infos.slice(i, i + LIST_BATCH) });
        call.end();
      } catch (e) {
        failStream('List', call, e);
      }
    },

    delete: unary(log, 'Delete', (req: content.DeleteContentRequest, md): protobuf.Empty => {
      const ns = requireNamespace(md);
      store.delete(ns, req.digest);
      ctx.publish(ns, '/content/delete', packAny('containerd.events.ContentDelete', events.ContentDelete, { digest: req.digest }));
      return {};
    }),

    read: (call: ServerWritableStream<content.ReadContentRequest, content.ReadContentResponse>) => {
      void (async () => {
        const ns = requireNamespace(call.metadata);
        const offset = num('offset', call.request.offset);
        const stream = store.read(ns, call.request.digest, offset, num('size', call.request.size));
        call.on('cancelled', () => stream.destroy());
        let at = offset;
        for await (const chunk of stream as AsyncIterable<Buffer>) {
          if (call.cancelled) return;
          if (!call.write({ offset: BigInt(at), data: chunk })) await new Promise((r) => call.once('drain', r));
          at += chunk.length;
        }
        call.end();
      })().catch((e: unknown) => {
        if (!call.cancelled) failStream('Read', call, e);
      });
    },

    status: unary(log, 'Status', (req: content.StatusRequest, md): content.StatusResponse => ({
      status: toProtoStatus(store.status(requireNamespace(md), req.ref)),
    })),

    listStatuses: unary(log, 'ListStatuses', (req: content.ListStatusesRequest, md): content.ListStatusesResponse => ({
      statuses: store.listStatuses(requireNamespace(md), req.filters).map(toProtoStatus),
    })),

    abort: unary(log, 'Abort', async (req: content.AbortRequest, md): Promise<protobuf.Empty> => {
      const ns = requireNamespace(md);
      store.abort(ns, req.ref);
      const lease = leaseOf(md);
      if (lease) await opts.onLeaseResourceRemoved?.(ns, lease, { id: req.ref, type: 'ingests' });
      return {};
    }),

    write: (call: ServerDuplexStream<content.WriteContentRequest, content.WriteContentResponse>) => {
      const lease = leaseOf(call.metadata);
      let ns = '';
      let ref = '';
      let total = 0;
      let expected = '';
      let writer: ContentWriter | undefined;
      let committed = false;
      let finished = false;
      let chain: Promise<void> = Promise.resolve();
      // the stream's life, from its first message to its commit or end (tracing only)
      let streamSpan: Span | undefined;
      let writeMs = 0; // time in the store's write (the rest of the stream's life is waiting for messages)
      let messages = 0;

      const release = async () => {
        streamSpan?.end({ bytes: writer?.offset ?? 0, committed, messages, writeMs: Math.round(writeMs) });
        const w = writer;
        writer = undefined;
        await w?.close();
      };
      const fail = (e: unknown) => {
        if (finished) return;
        finished = true;
        void release();
        failStream('Write', call, e);
      };
      const leaseAdd = async (resource: LeaseResource) => {
        if (lease) await opts.onLeaseResource?.(ns, lease, resource);
      };

      const open = async (req: content.WriteContentRequest) => {
        ns = requireNamespace(call.metadata);
        ref = req.ref;
        if (ref === '') throw invalidArgument('first message must have a reference (ref)');
        total = num('total', req.total);
        expected = req.expected;
        try {
          writer = await store.writer(ns, ref, { total, expected });
        } catch (e) {
          if (errdefs.isAlreadyExists(e) && expected !== '') await leaseAdd({ id: expected, type: 'content' });
          throw e;
        }
        await leaseAdd({ id: ref, type: 'ingests' });
      };

      const handle = async (req: content.WriteContentRequest): Promise<void> => {
        if (writer === undefined && !committed) {
          streamSpan = span('containerd.content.write', { ref: req.ref });
          await open(req);
        }
        if (committed || writer === undefined) throw errdefs.failedPrecondition(`ref ${ref}: already committed; open a new stream`);
        const w = writer;
        const res: content.WriteContentResponse = {
          action: req.action,
          offset: BigInt(w.offset),
          total: 0n,
          digest: '',
          startedAt: undefined,
          updatedAt: undefined,
        };

        if (req.expected !== '') {
          expected = req.expected;
          if (exists(ns, expected)) {
            await release();
            store.abort(ns, ref);
            throw errdefs.alreadyExists(`blob with expected digest ${expected} exists`);
          }
        }
        if (req.total > 0n) total = num('total', req.total);

        switch (req.action) {
          case content.WriteAction.STAT: {
            const st = w.status();
            res.total = BigInt(total);
            res.digest = w.digest();
            res.startedAt = ts(st.startedAt);
            res.updatedAt = ts(st.updatedAt);
            break;
          }
          case content.WriteAction.WRITE:
          case content.WriteAction.COMMIT: {
            const offset = num('offset', req.offset);
            if (offset > 0 && offset !== w.offset) throw errdefs.outOfRange(`write @${offset} must occur at current offset ${w.offset}`);
            if (offset === 0 && w.offset > 0) await w.truncate(0); // containerd's Truncate(0): start over
            if (req.data.length > 0) {
              const t = performance.now();
              await w.write(req.data);
              writeMs += performance.now() - t;
              messages++;
            }
            res.offset = BigInt(w.offset);
            res.digest = w.digest();
            if (req.action === content.WriteAction.COMMIT) {
              let info: ContentInfo;
              try {
                info = await traced('containerd.content.commit', () => w.commit(total, expected, req.labels), { bytes: w.offset });
              } catch (e) {
                if (errdefs.isAlreadyExists(e)) {
                  writer = undefined; // the store removed the ingest and released the writer
                  committed = true;
                  await leaseAdd({ id: res.digest, type: 'content' });
                  if (lease) await opts.onLeaseResourceRemoved?.(ns, lease, { id: ref, type: 'ingests' });
                }
                throw e;
              }
              writer = undefined;
              committed = true;
              streamSpan?.end({ bytes: info.size, committed, messages, writeMs: Math.round(writeMs) });
              res.digest = info.digest;
              res.offset = BigInt(info.size);
              await leaseAdd({ id: info.digest, type: 'content' });
              if (lease) await opts.onLeaseResourceRemoved?.(ns, lease, { id: ref, type: 'ingests' });
            }
            break;
          }
          default:
            throw invalidArgument(`unknown write action ${String(req.action)}`);
        }
        if (!finished) call.write(res);
      };

      call.on('data', (req: content.WriteContentRequest) => {
        call.pause(); // one message at a time
        chain = chain
          .then(() => (finished ? undefined : handle(req)))
          .catch(fail)
          .finally(() => call.resume());
      });
      call.on('end', () => {
        chain = chain
          .then(async () => {
            await release(); // keep the ingest for a resume
            if (!finished) {
              finished = true;
              call.end();
            }
          })
          .catch(fail);
      });
      const abandon = () => {
        finished = true;
        chain = chain.then(release).catch((e: unknown) => log.debug('closing writer failed', { ref, error: String(e) }));
      };
      call.on('cancelled', abandon);
      call.on('error', abandon);
    },
  };
}
