import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type * as net from 'node:net';
import * as path from 'node:path';
import type { Duplex } from 'node:stream';
import type { Logger } from '@gantry/linux';
import { traced, traceEnabled } from '@gantry/linux';
import { HttpError, badRequest, toHttpError } from './errors';
import { Reply, type RequestContext, type Router } from './router';
import { isLoopbackIp, ListenerConfigError, type ListenSpec, type TlsMaterial } from './listeners';
import { API_VERSION, MIN_API_VERSION, compareApiVersions } from '@gantry/engine-api';

export const ENGINE_VERSION = '0.1.0';
/** JSON request bodies above this are refused (413): nothing the API takes as JSON is larger. */
const MAX_JSON_BODY = 4 * 1024 * 1024;

function standardHeaders(): Record<string, string> {
  return {
    'Api-Version': API_VERSION,
    'Docker-Experimental': 'false',
    Ostype: 'linux',
    Server: `Gantry/${ENGINE_VERSION} (linux)`,
  };
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const data = body === undefined ? '' : `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    ...standardHeaders(),
    ...(data ? { 'Content-Type': 'application/json' } : {}),
    ...headers,
    'Content-Length': Buffer.byteLength(data),
  });
  res.end(data);
}

function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > limit) {
      reject(new HttpError(413, `request body of ${declared} bytes is larger than ${limit}`));
      req.resume();
      return;
    }
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > limit) {
        reject(new HttpError(413, `request body is larger than ${limit} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    // a client that went away (or was dropped for stalling) mid-body: not a server error
    req.on('error', (e: NodeJS.ErrnoException) => reject(e.code === 'ECONNRESET' ? new HttpError(400, 'request body incomplete: the connection closed') : e));
  });
}

/**
 * A request line's target as the router takes it: the API version, the route path without its
 * version prefix, and the query. Origin-form targets ("/...") are read against a fixed base so a
 * leading "//" stays a path, never a host; a target WHATWG URL cannot parse is a 400.
 */
export function requestTarget(target: string): { version: string; path: string; query: URLSearchParams } {
  let url: URL;
  try {
    url = target.startsWith('/') ? new URL(`http://localhost${target}`) : new URL(target);
  } catch {
    throw badRequest(`invalid request URI ${JSON.stringify(target.slice(0, 200))}`);
  }
  return { ...versionOf(url.pathname), query: url.searchParams };
}

/**
 * Go's path.Clean for a rooted path, keeping a trailing slash (gorilla/mux's cleanPath, which
 * dockerd's router runs before routing): no empty or "." segments, ".." resolved, never above "/".
 */
export function cleanPath(p: string): string {
  const out: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  const clean = `/${out.join('/')}`;
  return p.endsWith('/') && clean !== '/' ? `${clean}/` : clean;
}

/**
 * Where dockerd redirects an origin-form target whose path is not clean ("//version",
 * "/v1.45/./containers/json", "/a/../_ping"): the cleaned path with the query as it was, answered
 * with 301 before any routing (measured against dockerd 20.10: every method, no body). Undefined for
 * a clean path, and for other target forms.
 */
export function cleanRedirect(target: string): string | undefined {
  if (!target.startsWith('/')) return undefined;
  const q = target.indexOf('?');
  const p = q < 0 ? target : target.slice(0, q);
  const clean = cleanPath(p);
  return clean === p ? undefined : clean + (q < 0 ? '' : target.slice(q));
}

/** Split "/v1.41/containers/json" into the version and the route path. */
function versionOf(url: string): { version: string; path: string } {
  const m = /^\/v(\d+\.\d+)(\/.*)$/.exec(url);
  if (!m) return { version: API_VERSION, path: url };
  const version = m[1]!;
  if (compareApiVersions(version, MIN_API_VERSION) < 0) {
    throw badRequest(
      `client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`,
    );
  }
  if (compareApiVersions(version, API_VERSION) > 0) throw badRequest(`client version ${version} is too new. Maximum supported API version is ${API_VERSION}`);
  return { version, path: m[2]! };
}

/** How long a client may take, against slow or stalled clients. Long-lived responses are never cut. */
export interface ApiTimeouts {
  /** From a request's first byte (or the connection's opening) to the end of its headers. */
  headersMs: number;
  /** An idle keep-alive connection between two requests. */
  keepAliveMs: number;
  /** No byte of a declared request body arriving while the server waits for one. */
  bodyIdleMs: number;
  /** How often header deadlines are checked (Node's connectionsCheckingInterval). */
  checkIntervalMs: number;
}

const DEFAULT_TIMEOUTS: ApiTimeouts = { headersMs: 60_000, keepAliveMs: 30_000, bodyIdleMs: 120_000, checkIntervalMs: 5_000 };

interface Bound {
  server: http.Server;
  /** A unix socket's path and inode, to remove it at close only if it is still ours. */
  unix?: { path: string; dev: number; ino: number };
}

/**
 * The Docker Engine API over HTTP/1.1 on unix sockets and TCP (optionally TLS): version prefixes,
 * Docker's error bodies, bounded JSON bodies, and connection hijacking for attach and exec.
 */
export class ApiServer {
  private readonly bound: Bound[] = [];
  private readonly timeouts: ApiTimeouts;

  constructor(
    private readonly router: Router,
    private readonly log: Logger,
    timeouts: Partial<ApiTimeouts> = {},
  ) {
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...timeouts };
  }

  /** One HTTP(S) server: each listener has its own, all share the router. */
  private createServer(tls?: TlsMaterial): http.Server {
    const t = this.timeouts;
    const options: http.ServerOptions = {
      headersTimeout: t.headersMs,
      // requestTimeout bounds a whole request including its body: `docker load` of gigabytes may
      // take long, so bodies get an idle timeout instead (bodyIdleMs)
      requestTimeout: 0,
      keepAliveTimeout: t.keepAliveMs,
      connectionsCheckingInterval: t.checkIntervalMs,
    };
    const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
      this.watchBody(req, res);
      void this.handle(req, res, undefined);
    };
    const server = tls
      ? https.createServer(
          {
            ...options,
            key: tls.key,
            cert: tls.cert,
            ...(tls.verify ? { ca: tls.ca, requestCert: true, rejectUnauthorized: true } : {}),
            minVersion: 'TLSv1.2',
            // the docker CLI ends its side of a hijacked attach (TLS close_notify) when stdin is
            // done and reads the output after: without half-open sockets that output was lost
            allowHalfOpen: true,
            handshakeTimeout: t.headersMs,
          },
          onRequest,
        )
      : http.createServer(options, onRequest);
    server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head));
    server.on('tlsClientError', (e: Error, socket: Duplex) => {
      // a client without an acceptable certificate, or one that never finished its handshake
      this.log.debug('TLS handshake refused', { error: e.message, remote: (socket as net.Socket).remoteAddress });
      socket.destroy();
    });
    return server;
  }

  /**
   * A request that declares a body gets an idle timeout while the body is read: a client that
   * stops sending is dropped, one we are slow to read from (data waiting in the stream) is not.
   * Requests without a body get none, so a long response stream (logs -f, events) is never cut.
   */
  private watchBody(req: http.IncomingMessage, res: http.ServerResponse): void {
    const declared = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? '0') > 0;
    if (!declared) return;
    const socket = req.socket;
    const ms = this.timeouts.bodyIdleMs;
    socket.setTimeout(ms);
    // on the response: Node emits 'timeout' there whatever the request's state, and a listener
    // keeps it from destroying the socket on its own (a body received whole but not yet consumed
    // must not be cut)
    res.on('timeout', () => {
      if (req.complete) socket.setTimeout(0);
      else if (req.readableLength > 0) socket.setTimeout(ms);
      else {
        this.log.debug('request body stalled: connection dropped', { method: req.method, url: req.url });
        socket.destroy();
      }
    });
    req.once('end', () => {
      if (!res.writableFinished) socket.setTimeout(0);
    });
  }

  // attach and exec start ask to upgrade the connection ("Upgrade: tcp"), then speak raw streams on it
  private upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    // The request body (exec start's JSON) arrives on the socket before the raw stream: take
    // exactly Content-Length bytes of it, leave the rest for the stream.
    const want = Number(req.headers['content-length'] ?? '0');
    let buffered = head;
    const proceed = () => {
      const body = buffered.subarray(0, want);
      const rest = buffered.subarray(want);
      if (rest.length > 0) socket.unshift(rest);
      const res = new http.ServerResponse(req);
      res.assignSocket(socket as net.Socket);
      void this.handle(req, res, socket, body);
    };
    if (buffered.length >= want) return proceed();
    if (want > MAX_JSON_BODY) {
      socket.end(`HTTP/1.1 413 Request Entity Too Large\r\nContent-Type: application/json\r\n\r\n{"message":"request body is too large"}\n`);
      return;
    }
    // the body of an upgrade request is read here, off the HTTP parser: its idle timeout too
    const s = socket as net.Socket;
    const stalled = () => socket.destroy();
    s.setTimeout(this.timeouts.bodyIdleMs);
    s.once('timeout', stalled);
    const onData = (c: Buffer) => {
      buffered = Buffer.concat([buffered, c]);
      if (buffered.length >= want) {
        socket.off('data', onData);
        s.setTimeout(0);
        s.off('timeout', stalled);
        socket.pause();
        proceed();
      }
    };
    socket.on('data', onData);
  }

  /**
   * Listen on a unix socket (a path: the daemon's own group) or a spec. Returns the address as a
   * URL ("unix:///run/gantry/gantry.sock", "tcp://127.0.0.1:2376", "fd://3").
   */
  async listen(where: string | ListenSpec): Promise<string> {
    const spec: ListenSpec = typeof where === 'string' ? { proto: 'unix', path: where, gid: process.getgid?.() ?? 0 } : where;
    const server = this.createServer(spec.proto === 'unix' ? undefined : spec.tls);
    if (spec.proto === 'unix') {
      const unix = await listenUnixSocket(server, spec.path, spec.gid);
      this.bound.push({ server, unix });
      return `unix://${spec.path}`;
    }
    const listenOn = spec.proto === 'fd' ? { fd: spec.fd } : { host: spec.address, port: spec.port, exclusive: true };
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listenOn, () => {
        server.off('error', reject);
        resolve();
      });
    });
    // a passed socket is systemd's: its mode, owner and file stay as the .socket unit made them
    this.bound.push({ server });
    if (spec.proto === 'fd') {
      this.checkPassedTcp(server, spec);
      return `fd://${spec.fd}`;
    }
    const a = server.address() as net.AddressInfo;
    return `tcp://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  }

  /** A passed TCP socket meets the rule -H tcp:// does: no unauthenticated clients off loopback. */
  private checkPassedTcp(server: net.Server, spec: Extract<ListenSpec, { proto: 'fd' }>): void {
    const a = server.address();
    if (a === null || typeof a === 'string') return; // a unix socket: systemd's SocketMode/SocketGroup guard it
    if (spec.tls?.verify) return;
    const shown = `fd://${spec.fd} (tcp ${a.address}:${a.port})`;
    if (!isLoopbackIp(a.address) && !spec.insecureTcp) {
      server.close();
      this.bound.pop();
      throw new ListenerConfigError(
        `refusing to serve ${shown}: no client is authenticated without --tlsverify, and anyone who can reach it would have root on this machine (or pass --insecure-tcp)`,
      );
    }
    this.log.warn(`API on ${shown} without --tlsverify: anyone who can reach it is root on this machine`, { host: shown });
  }

  async close(): Promise<void> {
    await Promise.all(
      this.bound.splice(0).map(
        (b) =>
          new Promise<void>((resolve) => {
            b.server.close(() => resolve());
            b.server.closeAllConnections();
            if (b.unix) removeIfOurs(b.unix);
          }),
      ),
    );
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse, upgradeSocket: Duplex | undefined, upgradeBody?: Buffer): Promise<void> {
    const started = Date.now();
    let status = 0;
    try {
      // inside the try: a target URL cannot parse (`GET //[`) is the client's 400, not a rejection
      // nobody handles (which would end the daemon)
      const location = cleanRedirect(req.url ?? '/');
      if (location !== undefined) {
        status = 301;
        res.writeHead(301, { Location: location, 'Content-Length': 0 });
        res.end();
        return;
      }
      const { version, path: p, query } = requestTarget(req.url ?? '/');
      const method = req.method ?? 'GET';
      const { handler, params, route } = this.router.match(method, p);
      let hijacked = false;
      const ctx: RequestContext = {
        req,
        res,
        method,
        path: p,
        apiVersion: version,
        params,
        query,
        raw: (limit = MAX_JSON_BODY) => (upgradeBody ? Promise.resolve(upgradeBody) : readBody(req, limit)),
        json: <T>() => (traceEnabled() ? traced('engine.request.decode', () => jsonBody<T>(req, upgradeBody)) : jsonBody<T>(req, upgradeBody)),
        hijack: (contentType: string) => {
          hijacked = true;
          const socket = upgradeSocket ?? req.socket;
          const head = upgradeSocket
            ? `HTTP/1.1 101 UPGRADED\r\nContent-Type: ${contentType}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n${Object.entries(standardHeaders())
                .map(([k, v]) => `${k}: ${v}\r\n`)
                .join('')}\r\n`
            : `HTTP/1.1 200 OK\r\nContent-Type: ${contentType}\r\n${Object.entries(standardHeaders())
                .map(([k, v]) => `${k}: ${v}\r\n`)
                .join('')}\r\n`;
          socket.write(head);
          return socket;
        },
      };
      // under GANTRY_TRACE each request is a span named for its route: `engine.POST /containers/:id/start`
      const out = await (traceEnabled() ? traced(`engine.${method} ${route}`, () => handler(ctx)) : handler(ctx));
      if (hijacked || out === Reply.handled || res.headersSent) {
        status = res.statusCode || 101;
        return;
      }
      if (out instanceof Reply) {
        status = out.status;
        if (out.status === 204 || out.status === 304) {
          res.writeHead(out.status, { ...standardHeaders(), ...out.headers });
          res.end();
        } else sendJson(res, out.status, out.body, out.headers);
      } else {
        status = 200;
        sendJson(res, 200, out);
      }
    } catch (e) {
      const err = toHttpError(e);
      status = err.status;
      if (err.status >= 500) this.log.error('request failed', { method: req.method, url: req.url, error: err.message });
      if (!res.headersSent && !res.writableEnded) sendJson(res, err.status, { message: err.message });
      else res.end();
    } finally {
      this.log.debug('request', { method: req.method, url: req.url, status, ms: Date.now() - started });
    }
  }
}

/**
 * Bind a unix socket so that it never exists at `socketPath` with a mode wider than 0660 or the
 * wrong group: bind inside a fresh 0700 directory next to it (where nobody else can reach it,
 * whatever the umask made of it), set mode and owner there, then rename it into place, which
 * atomically replaces a stale socket. The umask is process-wide and other threads create files,
 * so it is left alone.
 */
async function listenUnixSocket(server: net.Server, socketPath: string, gid: number): Promise<{ path: string; dev: number; ino: number }> {
  const dir = path.dirname(socketPath);
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  const tmpDir = fs.mkdtempSync(path.join(dir, '.g-')); // mode 0700; a short name: socket paths are limited to 107 bytes
  const tmpSock = path.join(tmpDir, 's');
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(tmpSock, () => {
        server.off('error', reject);
        resolve();
      });
    });
    try {
      fs.chownSync(tmpSock, process.getuid?.() ?? 0, gid);
      fs.chmodSync(tmpSock, 0o660);
      fs.renameSync(tmpSock, socketPath);
    } catch (e) {
      server.close();
      throw e;
    }
    const st = fs.lstatSync(socketPath);
    return { path: socketPath, dev: st.dev, ino: st.ino };
  } finally {
    fs.rmSync(tmpDir, { recursive: true, force: true });
  }
}

/** Remove our socket file, unless another daemon has put its own there since. */
function removeIfOurs(s: { path: string; dev: number; ino: number }): void {
  try {
    const st = fs.lstatSync(s.path);
    if (st.isSocket() && st.dev === s.dev && st.ino === s.ino) fs.unlinkSync(s.path);
  } catch {
    // already gone
  }
}

/** The body as JSON (bounded, 400 when malformed); `{}` when empty. */
async function jsonBody<T>(req: http.IncomingMessage, upgradeBody: Buffer | undefined): Promise<T> {
  const body = upgradeBody ?? (await readBody(req, MAX_JSON_BODY));
  if (body.length === 0) return {} as T;
  try {
    return JSON.parse(body.toString('utf8')) as T;
  } catch (e) {
    throw badRequest(`invalid JSON: ${(e as Error).message}`);
  }
}
