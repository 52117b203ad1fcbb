/**
 * The one thin client layer Gantry's gRPC callers share (gantryd → gantry-containerd, the registry's
 * store, gantry-containerd → shims, shims → gantry-containerd): a channel per daemon socket that
 * every service client of that daemon rides on, call metadata, and unary calls as promises.
 */
import {
  Channel,
  credentials,
  Metadata,
  type CallOptions,
  type ChannelCredentials,
  type ChannelOptions,
  type ClientOptions,
  type ClientUnaryCall,
  type ServiceError,
} from '@grpc/grpc-js';
import { traced, traceEnabled } from '@gantry/linux';
import { NAMESPACE_HEADER } from './util';

/**
 * grpc-js' reconnect back-off grows to 120 s by default; a local daemon that was restarted is back
 * within a second or two, and calls waiting for it should not wait for a back-off timer as well.
 */
export const LOCAL_RECONNECT: ChannelOptions = { 'grpc.initial_reconnect_backoff_ms': 100, 'grpc.max_reconnect_backoff_ms': 1000 };

/** One channel to a daemon's unix socket (`options` add to or override LOCAL_RECONNECT). */
export function unixChannel(socket: string, options: ChannelOptions = {}): Channel {
  return new Channel(`unix://${socket}`, credentials.createInsecure(), { ...LOCAL_RECONNECT, ...options });
}

/** What every generated `<Name>Client` class is. */
export type ServiceClientClass<C> = new (address: string, creds: ChannelCredentials, options?: Partial<ClientOptions>) => C;

/** A client of one service on `channel` (closing any client closes the shared channel). */
export function clientOn<C>(Client: ServiceClientClass<C>, channel: Channel): C {
  return new Client(channel.getTarget(), credentials.createInsecure(), { channelOverride: channel });
}

export interface CallMetadataOptions {
  /** The `containerd-namespace` header. */
  namespace?: string;
  /** More headers (e.g. `containerd-lease`). */
  headers?: Record<string, string>;
  /**
   * Queue the call while the channel is not connected (the daemon is restarting) instead of failing
   * it at once with UNAVAILABLE; bounded only by the call's deadline, so give one.
   */
  waitForReady?: boolean;
}

export function callMetadata(opts: CallMetadataOptions = {}): Metadata {
  const md = new Metadata({ waitForReady: opts.waitForReady === true });
  if (opts.namespace !== undefined) md.set(NAMESPACE_HEADER, opts.namespace);
  for (const [k, v] of Object.entries(opts.headers ?? {})) md.set(k, v);
  return md;
}

/** A generated unary method, as called with metadata and options. */
export type UnaryMethod<Req, Res> = (req: Req, md: Metadata, opts: Partial<CallOptions>, cb: (err: ServiceError | null, res: Res) => void) => ClientUnaryCall;

/** A unary call as a promise: `await unaryCall(c, c.get, { id }, md, 10000)` (no deadline when timeoutMs is 0 or absent). */
export function unaryCall<Req, Res>(client: object, method: UnaryMethod<Req, Res>, req: Req, md: Metadata, timeoutMs?: number): Promise<Res> {
  if (traceEnabled()) return traced(rpcSpanName(client, method), () => sendUnary(client, method, req, md, timeoutMs));
  return sendUnary(client, method, req, md, timeoutMs);
}

function sendUnary<Req, Res>(client: object, method: UnaryMethod<Req, Res>, req: Req, md: Metadata, timeoutMs?: number): Promise<Res> {
  return new Promise((resolve, reject) => {
    method.call(client, req, md, timeoutMs ? { deadline: Date.now() + timeoutMs } : {}, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

/**
 * Whether `e` is a call cut by the connection going away (the daemon died while it ran, or could
 * not be reached): the server may or may not have done the work, so only a caller that can tell
 * which may retry it.
 */
export function isUnavailable(e: unknown): boolean {
  return (e as { code?: unknown } | null)?.code === 14;
}

/**
 * The span of a call as its caller sees it, in the caller's track: `rpc.<service>.<method>`, the
 * service by its proto name's last word before the version (`containerd.services.tasks.v1.Tasks`:
 * tasks; the shim's `containerd.task.v2.Task`: task), so `rpc.tasks.create` in gantryd and
 * `containerd.tasks.create` in gantry-containerd are the two ends of one call.
 */
function rpcSpanName(client: object, method: unknown): string {
  let name = 'call';
  for (const k in client) {
    if ((client as Record<string, unknown>)[k] === method) {
      name = k;
      break;
    }
  }
  const service = (client.constructor as { serviceName?: string }).serviceName ?? '';
  const parts = service.split('.');
  const v = parts.findIndex((p) => /^v\d+$/.test(p));
  return `rpc.${(v > 0 ? parts[v - 1] : parts[parts.length - 1]) ?? 'unknown'}.${name}`;
}
