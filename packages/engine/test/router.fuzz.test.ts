/**
 * Property-based fuzzing of the HTTP router and of request-target parsing (server.ts'
 * cleanRedirect and requestTarget, what the server does with a request line before any handler
 * runs), over the daemon's real route table (read from src/routes/*.ts). Any method and target
 * gives a 301 to the cleaned path (as dockerd), a route with its params, or a 400 (bad target or
 * version), 404 or 405 HttpError, never another exception; a path parameter decodes to exactly
 * what the client encoded.
 * Corpus: test/fuzz-corpus/router/*.bin (`METHOD target` request lines).
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as fc from 'fast-check';
import { corpusFiles, fuzz, fuzzTimeout } from '../../../tools/fuzz/support';
import { HttpError } from '../src/http/errors';
import { Router, type Handler } from '../src/http/router';
import { ApiServer, cleanPath, cleanRedirect, requestTarget } from '../src/http/server';
import { Logger } from '@gantry/linux';

const CORPUS = path.join(__dirname, 'fuzz-corpus', 'router');
const ROUTES_DIR = path.join(__dirname, '..', 'src', 'routes');

interface RouteDef {
  method: string;
  path: string;
  handler: Handler;
}

/** The routes gantryd registers, as `router.get('/path', ...)` calls in src/routes. */
function routeTable(): RouteDef[] {
  const defs: RouteDef[] = [];
  for (const f of fs.readdirSync(ROUTES_DIR).sort()) {
    const text = fs.readFileSync(path.join(ROUTES_DIR, f), 'utf8');
    for (const m of text.matchAll(/router\.(get|post|put|delete|head)\('([^']+)'/g)) {
      const def: RouteDef = { method: m[1]!.toUpperCase(), path: m[2]!, handler: () => def };
      defs.push(def);
    }
  }
  return defs;
}

const ROUTES = routeTable();
const router = new Router();
for (const r of ROUTES) router.add(r.method, r.path, r.handler);

/** What the server does with a request line up to the handler: the route and params, or the error status. */
function dispatch(method: string, target: string): { route: RouteDef; params: Record<string, string> } | number {
  const location = cleanRedirect(target);
  if (location !== undefined) {
    // the redirect is to a clean path, which is not redirected again, and keeps the query
    expect(location.startsWith('/') && !location.startsWith('//')).toBe(true);
    expect(cleanRedirect(location)).toBeUndefined();
    expect(location.slice(location.indexOf('?') < 0 ? location.length : location.indexOf('?'))).toBe(
      target.indexOf('?') < 0 ? '' : target.slice(target.indexOf('?')),
    );
    return 301;
  }
  try {
    const t = requestTarget(target);
    const { handler, params, route } = router.match(method, t.path);
    const def = handler(undefined as never) as RouteDef;
    // the route's path as added names the request's trace span
    expect(route).toBe(def.path);
    return { route: def, params };
  } catch (e) {
    if (e instanceof HttpError && [400, 404, 405].includes(e.status)) {
      expect(e.message).not.toMatch(/[\r\n]/);
      return e.status;
    }
    throw e;
  }
}

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'get', 'CONNECT', ''];
const LITERALS = [...new Set(ROUTES.flatMap((r) => r.path.split('/')).filter((s) => s !== '' && !/^[:*]/.test(s)))];
const segment = fc.oneof(
  fc.constantFrom(...LITERALS, '..', '.', '', '%2e%2e', '%2F', '%', '%zz', '%00', '\u0000', 'v1.45', 'v9.99', 'v1.12', 'json', '[', '#', '\\', ' '),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: fc.constantFrom('a', '%', '2', 'F', 'f', '0', 'e', '.', '/', '?', '&', '='), maxLength: 20 }),
  fc.constant('x'.repeat(70_000)),
);
const prefix = fc.constantFrom(
  '',
  '/v1.45',
  '/v1.24',
  '/v1.41',
  '/v9.99',
  '/v1.23',
  '/v1.0',
  '/v01.45',
  '/v1.45.1',
  '/v99999999999999999999.1',
  '//v1.45',
  '/V1.45',
  '/v1.x',
);
const query = fc.array(fc.tuple(fc.constantFrom('all', 'filters', 'force', 'all', 'name', 't', 'signal'), fc.string({ maxLength: 10 })), { maxLength: 4 });
const target = fc
  .tuple(prefix, fc.array(segment, { minLength: 0, maxLength: 6 }), query, fc.boolean())
  .map(
    ([p, segs, q, raw]) => `${p}/${segs.join('/')}${q.length ? `?${raw ? q.map(([k, v]) => `${k}=${v}`).join('&') : new URLSearchParams(q).toString()}` : ''}`,
  );
const anyTarget = fc.oneof(
  target,
  fc.string({ maxLength: 40 }),
  fc.string({ maxLength: 40 }).map((s) => `/${s}`),
  fc.constantFrom('//[', '*', 'http://h/containers/json', 'http://[', '/containers/json#x', '//containers/json'),
);
const requestLine = (x: [string, string]) => Buffer.from(`${x[0]} ${x[1]}`);

/** A route's path with its params filled in (`:x` one segment, `*x` the rest). */
function fill(r: RouteDef, values: string[]): string {
  let i = 0;
  return r.path.replace(/\/([:*])([a-zA-Z]+)/g, () => `/${values[i++]}`);
}
const keysOf = (r: RouteDef) => [...r.path.matchAll(/\/[:*]([a-zA-Z]+)/g)].map((m) => m[1]!);

describe('HTTP router fuzzing', () => {
  it('reads the route table', () => {
    expect(ROUTES.length).toBeGreaterThan(40);
    expect(ROUTES.some((r) => r.method === 'POST' && r.path === '/containers/create')).toBe(true);
  });

  it(
    'any method and target: a 301 to the clean path, a route, or a 400/404/405',
    () => {
      fuzz(fc.tuple(fc.constantFrom(...METHODS), anyTarget), ([m, t]) => void dispatch(m, t), { numRuns: 1000, corpus: { dir: CORPUS, bytes: requestLine } });
    },
    fuzzTimeout,
  );

  it(
    'a path parameter decodes to what was encoded, behind any supported version prefix, with any query',
    () => {
      // a parameter: anything but "." and ".." (dot segments, which URL resolution removes as
      // dockerd's path cleaning does) and the route table's literal words (another route's path)
      const param = fc
        .string({
          unit: fc.oneof(fc.constantFrom('/', '%', '.', '?', '#', '\u0000', ' ', '+', '&'), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 })),
          minLength: 1,
          maxLength: 30,
        })
        .filter((s) => s !== '.' && s !== '..' && !LITERALS.includes(s));
      fuzz(
        fc.tuple(
          fc.constantFrom(...ROUTES.filter((r) => keysOf(r).length > 0)),
          fc.array(param, { minLength: 2, maxLength: 2 }),
          fc.constantFrom('', '/v1.24', '/v1.45'),
          query,
        ),
        ([r, values, p, q]) => {
          const t = `${p}${fill(r, values.map(encodeURIComponent))}?${new URLSearchParams(q).toString()}`;
          const got = dispatch(r.method, t);
          expect(got).toEqual({ route: r, params: Object.fromEntries(keysOf(r).map((k, i) => [k, values[i]!])) });
          expect([...requestTarget(t).query]).toEqual(q);
        },
        { numRuns: 1000, corpus: { dir: CORPUS, bytes: ([r, v, p]) => Buffer.from(`${r.method} ${p}${fill(r, v.map(encodeURIComponent))}`) } },
      );
    },
    fuzzTimeout,
  );

  it('version prefixes, methods and bad encodings answer as dockerd', () => {
    const status = (m: string, t: string) => {
      const d = dispatch(m, t);
      return typeof d === 'number' ? d : `${d.route.method} ${d.route.path} ${JSON.stringify(d.params)}`;
    };
    expect(status('GET', '/v1.45/containers/json')).toBe('GET /containers/json {}');
    expect(status('HEAD', '/_ping')).toBe('HEAD /_ping {}');
    expect(status('GET', '/v9.99/containers/json')).toBe(400);
    expect(status('GET', '/v1.12/containers/json')).toBe(400);
    expect(status('PATCH', '/containers/json')).toBe(405);
    expect(status('GET', '/nope')).toBe(404);
    expect(status('GET', '/containers/%zz/json')).toBe(400);
    // one request line that once rejected outside the handler's try, which would end the daemon;
    // now, as dockerd, a path that is not clean is redirected before it is parsed
    expect(status('GET', '//[')).toBe(301);
    expect(status('GET', '*')).toBe(400);
    // image names keep their slashes, raw or encoded
    expect(status('GET', '/images/library/busybox/json')).toBe('GET /images/*name/json {"name":"library/busybox"}');
    expect(status('GET', '/images/library%2Fbusybox/json')).toBe('GET /images/*name/json {"name":"library/busybox"}');
  });

  it('paths that are not clean: a 301 to the cleaned path, query kept (dockerd 20.10 measured: gorilla/mux cleans before routing)', () => {
    expect(cleanRedirect('//version')).toBe('/version');
    expect(cleanRedirect('//v1.41//containers/json?all=1')).toBe('/v1.41/containers/json?all=1');
    expect(cleanRedirect('/v1.41/containers/./json')).toBe('/v1.41/containers/json');
    expect(cleanRedirect('/v1.41/../version')).toBe('/version');
    expect(cleanRedirect('/../../_ping')).toBe('/_ping');
    expect(cleanRedirect('/a/b/..?x=/../')).toBe('/a?x=/../');
    // clean paths, a trailing slash (dockerd: 404, no redirect) and other target forms are routed as they are
    for (const t of ['/version', '/containers/json/', '/', '/v1.45/containers/a%2F..%2Fb/json', '*', 'http://h//version'])
      expect(cleanRedirect(t)).toBeUndefined();
    expect(cleanPath('/a/./b/')).toBe('/a/b/');
    expect(cleanPath('/a/.')).toBe('/a');
    expect(cleanPath('//')).toBe('/');
  });
});

describe('request lines over a socket', () => {
  let server: ApiServer;
  let port: number;
  beforeAll(async () => {
    const r = new Router().get('/containers/:id/json', (c) => ({ id: c.params.id }));
    server = new ApiServer(r, new Logger('error'));
    port = Number(/:(\d+)$/.exec(await server.listen({ proto: 'tcp', address: '127.0.0.1', port: 0 }))![1]);
  });
  afterAll(() => server.close());

  /** The status line the server answers one request line with. */
  const statusLine = (line: string) =>
    new Promise<string>((resolve, reject) => {
      let got = '';
      const s = net.connect(port, '127.0.0.1', () => s.write(`${line} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
      s.setEncoding('utf8');
      s.on('data', (d: string) => (got += d));
      s.on('error', reject);
      s.on('close', () => resolve(got.split('\r\n')[0]!));
    });

  it('answers targets URL cannot parse, and the daemon lives on', async () => {
    // before requestTarget, "GET //[" rejected outside handle()'s try: no answer, and an unhandled rejection
    expect(await statusLine('GET //[')).toBe('HTTP/1.1 301 Moved Permanently');
    expect(await statusLine('GET /[')).toBe('HTTP/1.1 404 Not Found');
    expect(await statusLine('GET /v9.99/containers/x/json')).toBe('HTTP/1.1 400 Bad Request');
    expect(await statusLine('GET /v1.45/containers/a%2Fb%00/json?x=1&x=2')).toBe('HTTP/1.1 200 OK');
  });
});

describe('double slashes over a socket', () => {
  let server: ApiServer;
  let sock: string;
  let dir: string;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'grouter-'));
    sock = path.join(dir, 'api.sock');
    server = new ApiServer(
      new Router().get('/version', () => ({ Version: 'x' })).post('/containers/create', () => ({ Id: 'y' })),
      new Logger('error'),
    );
    await server.listen(sock);
  });
  afterAll(async () => {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** The status, Location and body of one request. */
  const ask = (method: string, target: string) =>
    new Promise<{ status: number; location: string | undefined; body: string }>((resolve, reject) => {
      const req = http.request({ socketPath: sock, method, path: target }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, body }));
      });
      req.on('error', reject);
      req.end();
    });

  it('GET //version and POST //containers/create: 301 to the clean path with no body, as dockerd (gantryd answered 404)', async () => {
    expect(await ask('GET', '//version')).toEqual({ status: 301, location: '/version', body: '' });
    expect(await ask('GET', '//v1.45//version?x=1')).toEqual({ status: 301, location: '/v1.45/version?x=1', body: '' });
    expect(await ask('POST', '//containers/create')).toEqual({ status: 301, location: '/containers/create', body: '' });
    expect((await ask('GET', '/version')).status).toBe(200);
  });
});

describe('HTTP router fuzz corpus replay', () => {
  for (const f of corpusFiles(CORPUS)) {
    it(`${f.name}: a route or a 400/404/405`, () => {
      const line = f.bytes.toString('utf8');
      const sp = line.indexOf(' ');
      dispatch(line.slice(0, sp), line.slice(sp + 1));
    });
  }
});
