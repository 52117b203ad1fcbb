/**
 * A remotecommand client (exec and attach) that speaks what client-go's does: over SPDY it opens
 * the error, stdin, stdout, stderr and resize streams by `streamtype`; over WebSocket it uses
 * channels 0-4. Exported for the project's CRI e2e tests.
 */
import { Readable } from 'node:stream';
import { headersOf } from '../spdy/headers';
import type { SpdyStream } from '../spdy/connection';
import { Channel, CLOSE_CHANNEL, REMOTECOMMAND_SPDY_PROTOCOLS, remotecommandVersion, StreamType } from '../protocols';
import type { TerminalSize } from '../runtime';
import { exitCodeOf, type Status } from '../status';
import { channelEncoding, decodeChannelMessage, encodeChannelMessage } from '../websocket/channels';
import { connectSpdy, connectWebSocket } from './connect';

export interface RemoteCommandOptions {
  transport?: 'spdy' | 'websocket';
  /** Protocols offered, preferred first (default: v4 down to v1 for SPDY, v5.channel.k8s.io for WebSocket). */
  protocols?: string[];
  /** What to send on stdin, then close it; omit for no stdin stream. */
  stdin?: Readable | Buffer | string;
  stdout?: boolean;
  /** Default: !tty. */
  stderr?: boolean;
  tty?: boolean;
  /** Terminal sizes sent in order on the resize stream (TTY). */
  resize?: TerminalSize[];
}

export interface RemoteCommandResult {
  protocol: string;
  stdout: Buffer;
  stderr: Buffer;
  /** From the v4+ Status (0 on Success); undefined when the status carries none. */
  exitCode: number | undefined;
  status?: Status;
  /** The error stream's text (protocols before v4, or a Status that is not JSON). */
  errorText?: string;
}

function readAll(s: Readable): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => resolve(Buffer.concat(chunks)));
    s.on('close', () => resolve(Buffer.concat(chunks)));
    s.on('error', () => resolve(Buffer.concat(chunks)));
  });
}

function stdinSource(v: Readable | Buffer | string): Readable {
  return typeof v === 'string' || Buffer.isBuffer(v) ? Readable.from([Buffer.from(v)]) : v;
}

function result(protocol: string, stdout: Buffer, stderr: Buffer, error: Buffer): RemoteCommandResult {
  const out: RemoteCommandResult = { protocol, stdout, stderr, exitCode: undefined };
  const text = error.toString('utf8');
  if (remotecommandVersion(protocol) >= 4) {
    try {
      out.status = JSON.parse(text) as Status;
      out.exitCode = exitCodeOf(out.status);
      return out;
    } catch {
      // not JSON: report the text
    }
  }
  if (text.length > 0) out.errorText = text;
  else out.exitCode = 0;
  return out;
}

export async function remoteCommand(url: string, opts: RemoteCommandOptions = {}): Promise<RemoteCommandResult> {
  const tty = opts.tty ?? false;
  const wantStdout = opts.stdout ?? true;
  const wantStderr = opts.stderr ?? !tty;
  return opts.transport === 'websocket' ? remoteCommandWs(url, opts, tty, wantStdout, wantStderr) : remoteCommandSpdy(url, opts, tty, wantStdout, wantStderr);
}

async function remoteCommandSpdy(
  url: string,
  opts: RemoteCommandOptions,
  tty: boolean,
  wantStdout: boolean,
  wantStderr: boolean,
): Promise<RemoteCommandResult> {
  const { conn, protocol } = await connectSpdy(url, opts.protocols ?? [...REMOTECOMMAND_SPDY_PROTOCOLS]);
  try {
    const open = (type: string): Promise<SpdyStream> => conn.createStream(headersOf({ streamtype: type }), { timeoutMs: 30_000 });
    const error = await open(StreamType.Error);
    error.end();
    const stdin = opts.stdin !== undefined ? await open(StreamType.Stdin) : undefined;
    const stdout = wantStdout ? await open(StreamType.Stdout) : undefined;
    const stderr = wantStderr && !tty ? await open(StreamType.Stderr) : undefined;
    const resize = tty && remotecommandVersion(protocol) >= 3 ? await open(StreamType.Resize) : undefined;
    const outputs = Promise.all([stdout ? readAll(stdout) : Buffer.alloc(0), stderr ? readAll(stderr) : Buffer.alloc(0), readAll(error)]);
    if (resize) {
      for (const s of opts.resize ?? []) resize.write(`${JSON.stringify({ Width: s.width, Height: s.height })}\n`);
      resize.end();
    }
    if (stdin && opts.stdin !== undefined) stdinSource(opts.stdin).pipe(stdin);
    const [out, err, status] = await outputs;
    return result(protocol, out, err, status);
  } finally {
    conn.close();
  }
}

async function remoteCommandWs(url: string, opts: RemoteCommandOptions, tty: boolean, wantStdout: boolean, wantStderr: boolean): Promise<RemoteCommandResult> {
  const got: Buffer[][] = [[], [], [], [], []];
  const ws = await connectWebSocket(url, opts.protocols ?? ['v5.channel.k8s.io'], (sock, msg) => {
    const enc = channelEncoding(sock.protocol);
    const m = decodeChannelMessage(msg, enc.base64, enc.closeSignal);
    if (m && !m.close && m.channel < got.length) got[m.channel]!.push(m.data);
  });
  const protocol = ws.protocol;
  const { base64, closeSignal } = channelEncoding(protocol);
  const closed = new Promise<void>((resolve) => (ws.readyState === ws.CLOSED ? resolve() : ws.once('close', () => resolve())));
  const send = (ch: number, data: Buffer): void => ws.send(encodeChannelMessage(ch, data, base64), { binary: !base64 });
  if (tty) for (const s of opts.resize ?? []) send(Channel.Resize, Buffer.from(JSON.stringify({ Width: s.width, Height: s.height })));
  if (opts.stdin !== undefined) {
    for await (const chunk of stdinSource(opts.stdin)) send(Channel.Stdin, Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
    if (closeSignal) ws.send(Buffer.from([CLOSE_CHANNEL, Channel.Stdin]));
  }
  await closed;
  const cat = (ch: number): Buffer => Buffer.concat(got[ch]!);
  return result(protocol, wantStdout ? cat(Channel.Stdout) : Buffer.alloc(0), wantStderr ? cat(Channel.Stderr) : Buffer.alloc(0), cat(Channel.Error));
}
