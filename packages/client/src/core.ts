/**
 * The part every endpoint group shares: versioned paths, queries, JSON bodies and answers,
 * negotiation on first use, and the client-wide timeout for calls that are not streams.
 */
import type * as http from 'node:http';
import type { Socket } from 'node:net';
import { API_VERSION } from '@gantry/engine-api';
import { negotiateVersion } from './negotiate';
import { readAll, type RequestBody, type Transport } from './transport';

export type QueryValue = string | number | boolean | string[] | Record<string, string[]> | undefined;

/** Filters as the API takes them: `{"label": ["a=b"], "status": ["running"]}`. */
export type Filters = Record<string, string[]>;

export interface CallOptions {
  /** Aborts the call (and any stream it returned). */
  signal?: AbortSignal;
}

interface Call extends CallOptions {
  query?: Record<string, QueryValue>;
  /** A JSON value, or raw bytes/stream with `contentType`. */
  json?: unknown;
  body?: RequestBody;
  contentType?: string;
  headers?: Record<string, string>;
  /** Streams are not cut by the client-wide timeout. */
  stream?: boolean;
}

/** `?a=1&b=x`: booleans as 1/0, arrays as repeated keys, objects (filters) as JSON; undefined left out. */
export function buildQuery(q: Record<string, QueryValue> | undefined): string {
  if (!q) return '';
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined) continue;
    if (typeof v === 'boolean') p.append(k, v ? '1' : '0');
    else if (Array.isArray(v)) for (const x of v) p.append(k, x);
    else if (typeof v === 'object') p.append(k, JSON.stringify(v));
    else p.append(k, String(v));
  }
  const s = p.toString();
  return s === '' ? '' : `?${s}`;
}

export class Core {
  private negotiated?: Promise<string>;

  constructor(
    readonly transport: Transport,
    /** A fixed version (no negotiation), e.g. from DOCKER_API_VERSION. */
    private readonly fixedVersion: string | undefined,
    private readonly timeoutMs: number | undefined,
  ) {}

  /** The API version in use: fixed, or negotiated once with `GET /_ping`. */
  apiVersion(signal?: AbortSignal): Promise<string> {
    if (this.fixedVersion !== undefined) return Promise.resolve(this.fixedVersion);
    this.negotiated ??= this.ping(signal).then(
      (p) => negotiateVersion(p.apiVersion, API_VERSION),
      (e: unknown) => {
        this.negotiated = undefined; // a daemon that was down may come up: ask again next time
        throw e;
      },
    );
    return this.negotiated;
  }

  /** `GET /_ping` (unversioned): "OK" and the daemon's headers. */
  async ping(signal?: AbortSignal): Promise<{ apiVersion?: string; osType?: string; builderVersion?: string }> {
    const res = await this.transport.request({ method: 'GET', path: '/_ping', signal: this.limit(signal, false) });
    await readAll(res);
    const h = (name: string) => {
      const v = res.headers[name];
      return typeof v === 'string' ? v : undefined;
    };
    const out: { apiVersion?: string; osType?: string; builderVersion?: string } = {};
    const apiVersion = h('api-version');
    const osType = h('ostype');
    const builderVersion = h('builder-version');
    if (apiVersion !== undefined) out.apiVersion = apiVersion;
    if (osType !== undefined) out.osType = osType;
    if (builderVersion !== undefined) out.builderVersion = builderVersion;
    return out;
  }

  /** The answer (status below 400) as a stream the caller consumes. */
  async call(method: string, path: string, c: Call = {}): Promise<http.IncomingMessage> {
    const version = await this.apiVersion(c.signal);
    const headers: Record<string, string> = { ...c.headers };
    let body = c.body;
    if (c.json !== undefined) {
      body = JSON.stringify(c.json);
      headers['Content-Type'] = 'application/json';
    } else if (c.contentType !== undefined) headers['Content-Type'] = c.contentType;
    return this.transport.request({
      method,
      path: `/v${version}${path}${buildQuery(c.query)}`,
      headers,
      body,
      signal: this.limit(c.signal, c.stream === true),
    });
  }

  /** The answer's JSON. */
  async json<T>(method: string, path: string, c: Call = {}): Promise<T> {
    const text = (await readAll(await this.call(method, path, c))).toString('utf8');
    return (text.trim() === '' ? undefined : JSON.parse(text)) as T;
  }

  /** A call whose answer has no body worth reading; its status. */
  async empty(method: string, path: string, c: Call = {}): Promise<number> {
    const res = await this.call(method, path, c);
    await readAll(res);
    return res.statusCode ?? 0;
  }

  async hijack(path: string, c: Call = {}): Promise<{ socket: Socket; contentType: string }> {
    const version = await this.apiVersion(c.signal);
    const headers: Record<string, string> = { ...c.headers };
    let body: RequestBody | undefined;
    if (c.json !== undefined) {
      body = JSON.stringify(c.json);
      headers['Content-Type'] = 'application/json';
    }
    return this.transport.hijack({ method: 'POST', path: `/v${version}${path}${buildQuery(c.query)}`, headers, body, signal: c.signal });
  }

  private limit(signal: AbortSignal | undefined, stream: boolean): AbortSignal | undefined {
    if (stream || this.timeoutMs === undefined) return signal;
    const t = AbortSignal.timeout(this.timeoutMs);
    return signal ? AbortSignal.any([signal, t]) : t;
  }
}

/** `s` percent-encoded for a path segment; image names keep their slashes (the routes match `*name`). */
export function seg(s: string): string {
  return encodeURIComponent(s);
}
export function imageSeg(name: string): string {
  return name.split('/').map(encodeURIComponent).join('/');
}
