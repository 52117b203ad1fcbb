/** The server's side of exec/attach and port-forward over a WebSocket (wsstream channels). */
import type { Logger } from '@gantry/linux';
import type WebSocket from 'ws';
import { Channel, remotecommandVersion } from './protocols';
import { endWritable, runCommand, type CommandRequest } from './remotecommand';
import type { StreamingRuntime } from './runtime';
import { ChannelConnection, channelEncoding } from './websocket/channels';

export interface WsServeContext {
  runtime: StreamingRuntime;
  log: Logger;
  idleTimeoutMs: number;
}

export function serveWsCommand(ws: WebSocket, protocol: string, cmd: CommandRequest, ctx: WsServeContext): void {
  const version = remotecommandVersion(protocol);
  const log = ctx.log.with({ kind: cmd.kind, containerId: cmd.req.containerId, transport: 'websocket', protocol: protocol || '(none)' });
  const conn = new ChannelConnection(ws, { ...channelEncoding(protocol), channels: 5, idleTimeoutMs: ctx.idleTimeoutMs, log });
  const { req } = cmd;
  const streams = {
    stdin: req.stdin ? conn.input(Channel.Stdin) : undefined,
    stdout: req.stdout ? conn.output(Channel.Stdout) : undefined,
    stderr: req.stderr && !req.tty ? conn.output(Channel.Stderr) : undefined,
    error: conn.output(Channel.Error),
    resize: req.tty ? conn.input(Channel.Resize) : undefined,
  };
  // As kubelet: an empty message on the lowest output channel tells the client the streams are up.
  conn.send(streams.stdout ? Channel.Stdout : streams.stderr ? Channel.Stderr : Channel.Error, Buffer.alloc(0));
  void runCommand(cmd, ctx.runtime, streams, version, log)
    .catch((e: unknown) => log.error('serving command failed', { err: e instanceof Error ? e.message : String(e) }))
    .finally(() => conn.close());
}

/**
 * Port-forward: channels 2i (data) and 2i+1 (error) for the i-th requested port; each begins with
 * the port as two little-endian bytes. The connection closes when every port is done.
 */
export function serveWsPortForward(ws: WebSocket, protocol: string, podSandboxId: string, ports: number[], ctx: WsServeContext): void {
  const log = ctx.log.with({ kind: 'portforward', podSandboxId, transport: 'websocket', protocol: protocol || '(none)' });
  const conn = new ChannelConnection(ws, { ...channelEncoding(protocol), channels: ports.length * 2, idleTimeoutMs: ctx.idleTimeoutMs, log });
  const forwards = ports.map(async (port, i) => {
    const prefix = Buffer.alloc(2);
    prefix.writeUInt16LE(port);
    conn.send(2 * i, prefix);
    conn.send(2 * i + 1, prefix);
    const data = conn.duplex(2 * i);
    data.on('error', (e: Error) => log.debug('data channel error', { err: e.message }));
    let failure: string | undefined;
    try {
      await ctx.runtime.portForward(podSandboxId, port, data);
    } catch (e) {
      failure = `error forwarding port ${port} to pod ${podSandboxId}: ${e instanceof Error ? e.message : String(e)}`;
      log.warn('port-forward failed', { port, err: failure });
    }
    if (failure) await endWritable(conn.output(2 * i + 1), Buffer.from(failure));
  });
  void Promise.all(forwards).finally(() => conn.close());
}
