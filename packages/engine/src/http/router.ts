import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { badRequest, HttpError } from './errors';

/** What a handler gets: the parsed request, helpers to read it and to answer. */
export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  /** The path without the /v1.xx prefix. */
  path: string;
  /** API version the client asked for (from the path), or the server's current one. */
  apiVersion: string;
  params: Record<string, string>;
  query: URLSearchParams;
  /** The body as JSON (bounded, 400 on malformed JSON); `{}` when empty. */
  json<T>(): Promise<T>;
  /** The raw body, bounded. */
  raw(limit?: number): Promise<Buffer>;
  /** Take over the connection (attach, exec start): after the 101 / 200 response the socket is ours. */
  hijack(contentType: string): Duplex;
}

/** Returns the response body, or a promise of it. */
export type Handler = (ctx: RequestContext) => unknown;

interface Route {
  method: string;
  /** As added (`/containers/:id/start`): names the request's trace span. */
  path: string;
  pattern: RegExp;
  keys: string[];
  handler: Handler;
}

/** A handler's answer: JSON (default 200), no content, or a stream it already wrote. */
export class Reply {
  constructor(
    readonly status: number,
    readonly body?: unknown,
    readonly headers: Record<string, string> = {},
  ) {}
  static noContent(): Reply {
    return new Reply(204);
  }
  static created(body: unknown): Reply {
    return new Reply(201, body);
  }
  /** The handler wrote (or hijacked) the response itself. */
  static readonly handled = new Reply(0);
}

export interface RouteMatch {
  handler: Handler;
  params: Record<string, string>;
  /** The matched route's path as added, with its `:name` parameters. */
  route: string;
}

export class Router {
  private readonly routes: Route[] = [];

  add(method: string, path: string, handler: Handler): this {
    const keys: string[] = [];
    // ":name" matches one segment; "*name" the rest of the path (image names contain "/")
    const pattern = new RegExp(
      `^${path.replace(/[.]/g, '\\.').replace(/\/([:*])([a-zA-Z]+)/g, (_m, kind: string, key: string) => {
        keys.push(key);
        return kind === '*' ? '/(.+)' : '/([^/]+)';
      })}$`,
    );
    this.routes.push({ method, path, pattern, keys, handler });
    return this;
  }

  get(p: string, h: Handler): this {
    return this.add('GET', p, h);
  }
  post(p: string, h: Handler): this {
    return this.add('POST', p, h);
  }
  put(p: string, h: Handler): this {
    return this.add('PUT', p, h);
  }
  delete(p: string, h: Handler): this {
    return this.add('DELETE', p, h);
  }
  head(p: string, h: Handler): this {
    return this.add('HEAD', p, h);
  }

  /** The handler and params for a request, or a 404/405 error. */
  match(method: string, path: string): RouteMatch {
    let pathMatched = false;
    let headAsGet: { r: Route; m: RegExpExecArray } | undefined;
    for (const r of this.routes) {
      const m = r.pattern.exec(path);
      if (!m) continue;
      pathMatched = true;
      // HEAD is served by the GET route, unless the path has a HEAD route of its own
      if (method === 'HEAD' && r.method === 'GET') headAsGet ??= { r, m };
      if (r.method !== method) continue;
      return this.found(r, m);
    }
    if (headAsGet) return this.found(headAsGet.r, headAsGet.m);
    if (pathMatched) throw new HttpError(405, `method ${method} not allowed on ${path}`);
    throw new HttpError(404, `page not found`);
  }

  private found(r: Route, m: RegExpExecArray): RouteMatch {
    const params: Record<string, string> = {};
    r.keys.forEach((k, i) => {
      try {
        params[k] = decodeURIComponent(m[i + 1]!);
      } catch {
        throw badRequest(`invalid path parameter ${k}`);
      }
    });
    return { handler: r.handler, params, route: r.path };
  }
}
