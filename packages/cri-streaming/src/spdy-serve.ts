/** The server's side of exec/attach and port-forward over an upgraded SPDY connection. */
import type { Socket } from 'node:net';
import type { Logger } from '@gantry/linux';
import { SpdyConnection, type ConnectionLimits, type SpdyStream } from './spdy/connection';
import { RstStatus } from './spdy/frame';
import { endWritable, guard, runCommand, type CommandRequest } from './remotecommand';
import { StreamType } from './protocols';
import type { StreamingRuntime } from './runtime';

export interface ServeContext {
  runtime: StreamingRuntime;
  log: Logger;
  limits: Partial<ConnectionLimits>;
  streamCreationTimeoutMs: number;
}

/** The stream types a remotecommand client creates for these options and protocol version. */
function expectedStreams(cmd: CommandRequest, version: number): Set<string> {
  const want = new Set<string>([StreamType.Error]);
  if (cmd.req.stdin) want.add(StreamType.Stdin);
  if (cmd.req.stdout) want.add(StreamType.Stdout);
  if (cmd.req.stderr && !cmd.req.tty) want.add(StreamType.Stderr);
  if (cmd.req.tty && version >= 3) want.add(StreamType.Resize);
  return want;
}

export function serveSpdyCommand(socket: Socket, cmd: CommandRequest, version: number, ctx: ServeContext): void {
  const want = expectedStreams(cmd, version);
  const got = new Map<string, SpdyStream>();
  let started = false;
  const log = ctx.log.with({ kind: cmd.kind, containerId: cmd.req.containerId, transport: 'spdy', version });
  const timer = setTimeout(() => {
    log.warn('timed out waiting for the client to create streams', { want: [...want], got: [...got.keys()] });
    conn.close();
  }, ctx.streamCreationTimeoutMs);
  const conn = new SpdyConnection(socket, {
    role: 'server',
    limits: ctx.limits,
    log,
    onStream: (stream) => {
      stream.reply();
      const type = stream.header('streamtype') ?? '';
      if (started || !want.has(type) || got.has(type)) {
        log.warn('unexpected stream', { streamType: type, streamId: stream.id });
        stream.reset(RstStatus.RefusedStream);
        return;
      }
      got.set(type, stream);
      if (got.size < want.size) return;
      started = true;
      clearTimeout(timer);
      const streams = {
        error: got.get(StreamType.Error)!,
        stdin: got.get(StreamType.Stdin),
        stdout: got.get(StreamType.Stdout),
        stderr: got.get(StreamType.Stderr),
        resize: got.get(StreamType.Resize),
      };
      // The client never writes on the error stream: take its end, if it sends one, and nothing else.
      streams.error.resume();
      void runCommand(cmd, ctx.runtime, streams, version, log)
        .catch((e: unknown) => log.error('serving command failed', { err: e instanceof Error ? e.message : String(e) }))
        .finally(() => conn.close());
    },
  });
  conn.on('close', () => clearTimeout(timer));
}

/**
 * Port-forward: the client opens an error stream and a data stream per forwarded connection,
 * paired by the `requestid` header, each naming the `port`; the connection lives until the
 * client closes it (kubectl keeps one for all its connections).
 */
export function serveSpdyPortForward(socket: Socket, podSandboxId: string, ctx: ServeContext): void {
  const log = ctx.log.with({ kind: 'portforward', podSandboxId, transport: 'spdy' });
  const pending = new Map<string, { error?: SpdyStream; data?: SpdyStream; timer: NodeJS.Timeout }>();
  new SpdyConnection(socket, {
    role: 'server',
    limits: ctx.limits,
    log,
    onStream: (stream) => {
      stream.reply();
      guard([stream], log);
      const type = stream.header('streamtype') ?? '';
      // Clients before requestID: kubelet derives it from the stream ids (data = error + 2).
      const requestId = stream.header('requestid') ?? String(type === StreamType.Data ? stream.id - 2 : stream.id);
      if (type !== StreamType.Data && type !== StreamType.Error) {
        log.warn('unexpected stream', { streamType: type, streamId: stream.id });
        stream.reset(RstStatus.RefusedStream);
        return;
      }
      let pair = pending.get(requestId);
      if (!pair) {
        const timer = setTimeout(() => {
          pending.delete(requestId);
          log.warn('timed out waiting for the stream pair', { requestId });
          pair?.error?.reset();
          pair?.data?.reset();
        }, ctx.streamCreationTimeoutMs);
        pair = { timer };
        pending.set(requestId, pair);
      }
      if (pair[type]) {
        stream.reset(RstStatus.StreamInUse);
        return;
      }
      pair[type] = stream;
      if (!pair.error || !pair.data) return;
      clearTimeout(pair.timer);
      pending.delete(requestId);
      void forwardPair(podSandboxId, pair.data, pair.error, ctx, log);
    },
  });
}

async function forwardPair(podSandboxId: string, data: SpdyStream, error: SpdyStream, ctx: ServeContext, log: Logger): Promise<void> {
  error.resume();
  const portText = data.header('port') ?? '';
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  let failure: string | undefined;
  if (!(port >= 1 && port <= 65535)) failure = `invalid port ${JSON.stringify(portText)}`;
  else {
    try {
      await ctx.runtime.portForward(podSandboxId, port, data);
    } catch (e) {
      failure = `error forwarding port ${port} to pod ${podSandboxId}: ${e instanceof Error ? e.message : String(e)}`;
    }
  }
  if (failure) log.warn('port-forward failed', { port: portText, err: failure });
  await endWritable(data);
  await endWritable(error, failure ? Buffer.from(failure) : undefined);
}
