import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import type { Duplex } from 'node:stream';
import type { Logger } from '@gantry/containerd';
import { HttpError, badRequest } from './errors';
import { Reply, type RequestContext, type Router } from './router';

export const API_VERSION = '1.45';
export const MIN_API_VERSION = '1.24';
export const ENGINE_VERSION = '0.1.0';
/** JSON request bodies above this are refused (413): nothing the API takes as JSON is larger. */
export const MAX_JSON_BODY = 4 * 1024 * 1024;

function cmpVersion(a: string, b: string): number {
  const [a1, a2] = a.split('.').map(Number);
  const [b1, b2] = b.split('.').map(Number);
  return a1! - b1! || a2! - b2!;
}

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
  res.writeHead(status, { ...standardHeaders(), ...(data ? { 'Content-Type': 'application/json' } : {}), ...headers, 'Content-Length': Buffer.byteLength(data) });
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
    req.on('error', reject);
  });
}

/** Split "/v1.41/containers/json" into the version and the route path. */
function versionOf(url: string): { version: string; path: string } {
  const m = /^\/v(\d+\.\d+)(\/.*)$/.exec(url);
  if (!m) return { version: API_VERSION, path: url };
  const version = m[1]!;
  if (cmpVersion(version, MIN_API_VERSION) < 0) {
    throw badRequest(`client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`);
  }
  if (cmpVersion(version, API_VERSION) > 0) throw badRequest(`client version ${version} is too new. Maximum supported API version is ${API_VERSION}`);
  return { version, path: m[2]! };
}

/**
 * The Docker Engine API over HTTP/1.1 on a unix socket: version prefixes, Docker's error bodies,
 * bounded JSON bodies, and connection hijacking for attach and exec.
 */
export class ApiServer {
  private readonly server: http.Server;

  constructor(
    private readonly router: Router,
    private readonly log: Logger,
  ) {
    this.server = http.createServer((req, res) => void this.handle(req, res, undefined));
    // attach and exec start ask to upgrade the connection ("Upgrade: tcp"), then speak raw streams on it
    this.server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      // The request body (exec start's JSON) arrives on the socket before the raw stream: take
      // exactly Content-Length bytes of it, leave the rest for the stream.
      const want = Number(req.headers['content-length'] ?? '0');
      let buffered = head;
      const proceed = () => {
        const body = buffered.subarray(0, want);
        const rest = buffered.subarray(want);
        if (rest.length > 0) socket.unshift(rest);
        const res = new http.ServerResponse(req);
        res.assignSocket(socket as unknown as import('node:net').Socket);
        void this.handle(req, res, socket, body);
      };
      if (buffered.length >= want) return proceed();
      if (want > MAX_JSON_BODY) {
        socket.end(`HTTP/1.1 413 Request Entity Too Large\r\nContent-Type: application/json\r\n\r\n{"message":"request body is too large"}\n`);
        return;
      }
      const onData = (c: Buffer) => {
        buffered = Buffer.concat([buffered, c]);
        if (buffered.length >= want) {
          socket.off('data', onData);
          socket.pause();
          proceed();
        }
      };
      socket.on('data', onData);
    });
    this.server.keepAliveTimeout = 30_000;
    this.server.requestTimeout = 0; // streams (logs -f, events, attach) are long-lived
  }

  listen(socketPath: string): Promise<void> {
    fs.mkdirSync(path.dirname(socketPath), { recursive: true, mode: 0o755 });
    fs.rmSync(socketPath, { force: true });
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(socketPath, () => {
        // root only, as dockerd's socket (group root)
        fs.chmodSync(socketPath, 0o660);
        resolve();
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse, upgradeSocket: Duplex | undefined, upgradeBody?: Buffer): Promise<void> {
    const started = Date.now();
    const url = new URL(req.url ?? '/', 'http://localhost');
    let status = 0;
    try {
      const { version, path: p } = versionOf(url.pathname);
      const method = req.method ?? 'GET';
      const { handler, params } = this.router.match(method, p);
      let hijacked = false;
      const ctx: RequestContext = {
        req,
        res,
        method,
        path: p,
        apiVersion: version,
        params,
        query: url.searchParams,
        raw: (limit = MAX_JSON_BODY) => (upgradeBody ? Promise.resolve(upgradeBody) : readBody(req, limit)),
        json: async <T>() => {
          const body = upgradeBody ?? (await readBody(req, MAX_JSON_BODY));
          if (body.length === 0) return {} as T;
          try {
            return JSON.parse(body.toString('utf8')) as T;
          } catch (e) {
            throw badRequest(`invalid JSON: ${(e as Error).message}`);
          }
        },
        hijack: (contentType: string) => {
          hijacked = true;
          const socket = upgradeSocket ?? req.socket;
          const head = upgradeSocket
            ? `HTTP/1.1 101 UPGRADED\r\nContent-Type: ${contentType}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n${Object.entries(standardHeaders()).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`
            : `HTTP/1.1 200 OK\r\nContent-Type: ${contentType}\r\n${Object.entries(standardHeaders()).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
          socket.write(head);
          return socket;
        },
      };
      const out = await handler(ctx);
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
      const err = e instanceof HttpError ? e : new HttpError(500, e instanceof Error ? e.message : String(e));
      status = err.status;
      if (err.status >= 500) this.log.error('request failed', { method: req.method, url: req.url, error: err.message });
      if (!res.headersSent && !res.writableEnded) sendJson(res, err.status, { message: err.message });
      else res.end();
    } finally {
      this.log.debug('request', { method: req.method, url: req.url, status, ms: Date.now() - started });
    }
  }
}
