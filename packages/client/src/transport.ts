/**
 * One HTTP exchange with the daemon over a unix socket, TCP or TLS (node:http / node:https), and
 * hijacked connections (attach, exec start: `Upgrade: tcp`, then raw bytes both ways).
 *
 * Each request has its own connection (`agent: false`): a daemon may answer and close before it
 * read a whole upload, and a pooled socket's late EPIPE would have no listener.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { ConnectionError, EngineError, errorFromResponse } from './errors';
import { formatHost, type HostAddress, type TlsFiles } from './host';

export type RequestBody = string | Buffer | Readable | AsyncIterable<Buffer | Uint8Array>;

export interface HttpRequest {
  method: string;
  /** Path and query, already versioned. */
  path: string;
  headers?: Record<string, string>;
  body?: RequestBody;
  signal?: AbortSignal;
}

/** Errors that mean nobody (usable) is listening at the address. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOENT', 'EACCES', 'EPERM', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ENOTSOCK']);

export class Transport {
  readonly host: string;

  constructor(
    private readonly address: HostAddress,
    private readonly tls?: TlsFiles,
  ) {
    this.host = formatHost(address);
  }

  /** Send `req`; the answer when its status is below 400, else its typed error. */
  async request(req: HttpRequest): Promise<http.IncomingMessage> {
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const r = this.open(req);
      r.once('response', resolve);
      r.once('error', (e) => reject(this.wrap(e, req.signal)));
      this.send(r, req.body, reject);
    });
    if ((res.statusCode ?? 0) >= 400) throw errorFromResponse(res.statusCode ?? 0, await readAll(res));
    return res;
  }

  /**
   * Ask for the connection (`Upgrade: tcp`); on 101 the socket, with whatever the daemon sent past
   * the headers put back in front. An error answer is its typed error.
   */
  hijack(req: HttpRequest): Promise<{ socket: Socket; contentType: string }> {
    return new Promise((resolve, reject) => {
      const r = this.open({ ...req, headers: { ...req.headers, Connection: 'Upgrade', Upgrade: 'tcp' } });
      r.once('upgrade', (res: http.IncomingMessage, socket: Socket, head: Buffer) => {
        if (head.length > 0) socket.unshift(head);
        if (req.signal) {
          const onAbort = () => socket.destroy(abortReason(req.signal!));
          req.signal.addEventListener('abort', onAbort, { once: true });
          socket.once('close', () => req.signal!.removeEventListener('abort', onAbort));
        }
        resolve({ socket, contentType: headerValue(res.headers['content-type']) });
      });
      r.once('response', (res: http.IncomingMessage) => {
        void readAll(res).then(
          (body) =>
            reject(
              (res.statusCode ?? 0) >= 400
                ? errorFromResponse(res.statusCode ?? 0, body)
                : new EngineError(res.statusCode ?? 0, 'the daemon did not upgrade the connection'),
            ),
          reject,
        );
      });
      r.once('error', (e) => reject(this.wrap(e, req.signal)));
      this.send(r, req.body, reject);
    });
  }

  private open(req: HttpRequest): http.ClientRequest {
    const common: http.RequestOptions = { method: req.method, path: req.path, headers: req.headers, agent: false, signal: req.signal };
    if (this.address.proto === 'unix') return http.request({ ...common, socketPath: this.address.socketPath });
    const target = { ...common, host: this.address.host, port: this.address.port };
    if (!this.tls) return http.request(target);
    return https.request({ ...target, ca: this.tls.ca, cert: this.tls.cert, key: this.tls.key, rejectUnauthorized: this.tls.verify });
  }

  private send(r: http.ClientRequest, body: RequestBody | undefined, reject: (e: unknown) => void): void {
    // a daemon that answers before reading the whole body: the write error reaches `r` too
    r.on('socket', (s) => s.on('error', () => undefined));
    if (body === undefined || typeof body === 'string' || Buffer.isBuffer(body)) {
      r.end(body);
      return;
    }
    const src = body instanceof Readable ? body : Readable.from(body);
    src.once('error', (e) => {
      r.destroy(e);
      reject(e);
    });
    src.pipe(r);
  }

  private wrap(e: Error, signal: AbortSignal | undefined): Error {
    if (signal?.aborted) return abortReason(signal);
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== undefined && UNREACHABLE.has(code)) return new ConnectionError(this.host, e);
    // a TLS daemon that refuses our certificate may reset the connection instead of sending an alert
    if (this.tls && (code === 'ECONNRESET' || /certificate|SSL|TLS|alert/i.test(e.message))) return new ConnectionError(this.host, e);
    return e;
  }
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('The operation was aborted');
}

function headerValue(v: string | string[] | undefined): string {
  return Array.isArray(v) ? (v[0] ?? '') : (v ?? '');
}

/** The whole body. */
export async function readAll(res: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c);
  return Buffer.concat(chunks);
}
