/**
 * The CRI streaming server: the CRI service asks it for a one-time URL (getExec, getAttach,
 * getPortForward), the client (kubelet's proxy, crictl, kubectl) connects to that URL and upgrades
 * to SPDY/3.1 or WebSocket, and the server runs the request against the runtime.
 *
 * Routes, as kubelet's: GET or POST /exec/{token}, /attach/{token}, /portforward/{token}. A token
 * is used once; an unknown, used or expired one is 404.
 */
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { errdefs, Logger } from '@gantry/linux';
import { WebSocketServer } from 'ws';
import {
  ACCEPTED_PROTOCOLS_HEADER,
  headerItems,
  negotiate,
  PORTFORWARD_SPDY_PROTOCOLS,
  PORTFORWARD_WS_PROTOCOLS,
  REMOTECOMMAND_SPDY_PROTOCOLS,
  REMOTECOMMAND_WS_PROTOCOLS,
  remotecommandVersion,
  STREAM_PROTOCOL_HEADER,
} from './protocols';
import type { CommandRequest } from './remotecommand';
import type { AttachRequest, ExecRequest, PortForwardRequest, StreamingResponse, StreamingRuntime } from './runtime';
import type { ConnectionLimits } from './spdy/connection';
import { serveSpdyCommand, serveSpdyPortForward } from './spdy-serve';
import { TokenCache } from './tokens';
import { serveWsCommand, serveWsPortForward } from './ws-serve';

export interface StreamingServerOptions {
  runtime: StreamingRuntime;
  /** host:port to listen on (default 127.0.0.1:0, an ephemeral loopback port). */
  address?: string;
  /** The URLs' base when clients reach the server by another name (default http://<listening address>). */
  baseUrl?: string;
  /** How long a URL stays valid (default 1 min, kubelet's). */
  tokenTtlMs?: number;
  /** URLs handed out and not yet used (default 1000). */
  maxInFlight?: number;
  /** How long the client has to open its streams after the upgrade (default 30 s). */
  streamCreationTimeoutMs?: number;
  /** A connection with no traffic this long is closed (default 4 h, kubelet's). */
  streamIdleTimeoutMs?: number;
  /** SPDY bounds (frame and header block sizes, streams per connection). */
  spdyLimits?: Partial<Omit<ConnectionLimits, 'idleTimeoutMs'>>;
  /** Largest WebSocket message accepted (default 1 MiB). */
  maxWebSocketMessage?: number;
  log?: Logger;
  /** The clock tokens expire by (tests move it). */
  now?: () => number;
}

type Pending = { kind: 'exec'; req: ExecRequest } | { kind: 'attach'; req: AttachRequest } | { kind: 'portforward'; req: PortForwardRequest };

const ROUTE = /^\/(exec|attach|portforward)\/([A-Za-z0-9_-]{1,64})\/?$/;

export class StreamingServer {
  private readonly http: http.Server;
  private readonly wss: WebSocketServer;
  private readonly tokens: TokenCache<Pending>;
  private readonly log: Logger;
  private readonly sockets = new Set<Socket>();
  private base: string | undefined;

  constructor(private readonly opts: StreamingServerOptions) {
    this.log = opts.log ?? new Logger('info', { component: 'cri-streaming' });
    this.tokens = new TokenCache(opts.tokenTtlMs ?? 60_000, opts.maxInFlight ?? 1000, opts.now);
    this.wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxWebSocketMessage ?? 1 << 20, perMessageDeflate: false });
    this.http = http.createServer((req, res) => this.onRequest(req, res));
    this.http.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => this.onUpgrade(req, socket, head));
    this.http.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  async start(): Promise<void> {
    const [host, port] = splitHostPort(this.opts.address ?? '127.0.0.1:0');
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    const a = this.http.address() as AddressInfo;
    this.base = (this.opts.baseUrl ?? `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`).replace(/\/+$/, '');
    this.log.info('cri streaming server listening', { url: this.base });
  }

  /** The URLs' base, e.g. http://127.0.0.1:38291. */
  get url(): string {
    if (!this.base) throw errdefs.failedPrecondition('streaming server not started');
    return this.base;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    for (const c of this.wss.clients) c.terminate();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  getExec(req: ExecRequest): StreamingResponse {
    if (!req.containerId) throw errdefs.invalidArgument('missing required container id');
    if (req.cmd.length === 0) throw errdefs.invalidArgument('cmd must not be empty');
    validateStreams(req);
    return this.issue({ kind: 'exec', req: { ...req, cmd: [...req.cmd] } });
  }

  getAttach(req: AttachRequest): StreamingResponse {
    if (!req.containerId) throw errdefs.invalidArgument('missing required container id');
    validateStreams(req);
    return this.issue({ kind: 'attach', req: { ...req } });
  }

  getPortForward(req: PortForwardRequest): StreamingResponse {
    if (!req.podSandboxId) throw errdefs.invalidArgument('missing required pod sandbox id');
    for (const p of req.port) if (!Number.isInteger(p) || p < 1 || p > 65535) throw errdefs.invalidArgument(`invalid port ${p}`);
    return this.issue({ kind: 'portforward', req: { ...req, port: [...req.port] } });
  }

  private issue(p: Pending): StreamingResponse {
    const token = this.tokens.insert(p);
    return { url: `${this.url}/${p.kind}/${token}` };
  }

  /** The request a URL names, consuming its token; an error text and HTTP status otherwise. */
  private resolve(req: http.IncomingMessage): Pending | { status: number; text: string } {
    if (req.method !== 'GET' && req.method !== 'POST') return { status: 405, text: 'method not allowed' };
    const path = (req.url ?? '').split('?')[0]!;
    const m = ROUTE.exec(path);
    if (!m) return { status: 404, text: 'not found' };
    const pending = this.tokens.consume(m[2]!);
    if (!pending || pending.kind !== m[1]) return { status: 404, text: 'not found' };
    return pending;
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const r = this.resolve(req);
    const [status, text] = 'status' in r ? [r.status, r.text] : [400, 'unable to upgrade: missing upgrade headers in request'];
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) + 1 });
    res.end(`${text}\n`);
  }

  private onUpgrade(req: http.IncomingMessage, socket: Socket, head: Buffer): void {
    socket.on('error', (e) => this.log.debug('socket error', { err: e.message }));
    const r = this.resolve(req);
    if ('status' in r) return refuse(socket, r.status, r.text);
    const upgrade = (req.headers.upgrade ?? '').toLowerCase();
    const connection = headerItems(req.headers.connection).map((s) => s.toLowerCase());
    if (!connection.includes('upgrade')) return refuse(socket, 400, 'unable to upgrade: missing upgrade headers in request');
    if (upgrade === 'websocket') return this.upgradeWebSocket(req, socket, head, r);
    if (upgrade === 'spdy/3.1') return this.upgradeSpdy(req, socket, head, r);
    refuse(socket, 400, `unable to upgrade: unsupported upgrade ${JSON.stringify(req.headers.upgrade)}`);
  }

  private upgradeSpdy(req: http.IncomingMessage, socket: Socket, head: Buffer, p: Pending): void {
    const offered = headerItems(req.headers[STREAM_PROTOCOL_HEADER.toLowerCase()]);
    const supported = p.kind === 'portforward' ? PORTFORWARD_SPDY_PROTOCOLS : REMOTECOMMAND_SPDY_PROTOCOLS;
    if (offered.length === 0) return refuse(socket, 400, `unable to upgrade: ${STREAM_PROTOCOL_HEADER} is required`);
    const protocol = negotiate(offered, supported);
    if (!protocol)
      return refuse(
        socket,
        403,
        `unable to upgrade: unable to negotiate protocol: client supports ${JSON.stringify(offered)}, server accepts ${JSON.stringify(supported)}`,
        {
          [ACCEPTED_PROTOCOLS_HEADER]: supported.join(', '),
        },
      );
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n${STREAM_PROTOCOL_HEADER}: ${protocol}\r\nDate: ${new Date().toUTCString()}\r\n\r\n`,
    );
    if (head.length > 0) socket.unshift(head);
    const ctx = {
      runtime: this.opts.runtime,
      log: this.log,
      limits: { ...this.opts.spdyLimits, idleTimeoutMs: this.opts.streamIdleTimeoutMs ?? 4 * 3600_000 },
      streamCreationTimeoutMs: this.opts.streamCreationTimeoutMs ?? 30_000,
    };
    if (p.kind === 'portforward') serveSpdyPortForward(socket, p.req.podSandboxId, ctx);
    else serveSpdyCommand(socket, p as CommandRequest, remotecommandVersion(protocol), ctx);
  }

  private upgradeWebSocket(req: http.IncomingMessage, socket: Socket, head: Buffer, p: Pending): void {
    const offered = headerItems(req.headers['sec-websocket-protocol']);
    const supported: readonly string[] = p.kind === 'portforward' ? PORTFORWARD_WS_PROTOCOLS : REMOTECOMMAND_WS_PROTOCOLS;
    const protocol = offered.length === 0 ? '' : negotiate(offered, supported);
    if (protocol === undefined)
      return refuse(socket, 400, `requested protocol(s) are not supported: ${JSON.stringify(offered)}; supports ${JSON.stringify(supported)}`);
    let ports: number[] = [];
    if (p.kind === 'portforward') {
      const query = new URL(req.url ?? '/', 'http://x').searchParams;
      const asked = query.getAll('port').flatMap((s) => s.split(','));
      ports = asked.length > 0 ? asked.map((s) => (/^\d{1,5}$/.test(s.trim()) ? Number(s.trim()) : NaN)) : p.req.port;
      if (ports.length === 0 || ports.some((n) => !(n >= 1 && n <= 65535))) return refuse(socket, 400, 'invalid or missing port query parameter');
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const ctx = { runtime: this.opts.runtime, log: this.log, idleTimeoutMs: this.opts.streamIdleTimeoutMs ?? 4 * 3600_000 };
      if (p.kind === 'portforward') serveWsPortForward(ws, protocol, p.req.podSandboxId, ports, ctx);
      else serveWsCommand(ws, protocol, p as CommandRequest, ctx);
    });
  }
}

function validateStreams(req: { stdin: boolean; stdout: boolean; stderr: boolean; tty: boolean }): void {
  if (req.tty && req.stderr) throw errdefs.invalidArgument('tty and stderr cannot both be true');
  if (!req.stdin && !req.stdout && !req.stderr) throw errdefs.invalidArgument('one of stdin, stdout, or stderr must be set');
}

function refuse(socket: Socket, status: number, text: string, headers: Record<string, string> = {}): void {
  const body = `${text}\n`;
  const extra = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}Connection: close\r\n\r\n${body}`,
  );
}

function splitHostPort(addr: string): [string, number] {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(addr);
  if (!m) throw errdefs.invalidArgument(`streaming address ${JSON.stringify(addr)} is not host:port`);
  return [m[1]!, Number(m[2])];
}
