/**
 * HTTP to one registry host: scheme choice (HTTPS, plain HTTP only for loopback or configured
 * insecure registries, after HTTPS failed as Docker does), the `/v2/` ping that learns the auth
 * challenge, Authorization for the scopes of each request, one re-try after a fresh 401
 * challenge, redirects for blob downloads, and `withRetry` for transient failures.
 *
 * Credentials (Basic, a bearer token, the token server's Basic login) go only to the registry's
 * own origin (scheme, host and port of its /v2/ endpoint), and over plain HTTP only to a host
 * allowed to be insecure (loopback, or configured): a redirect or an upload location on another
 * origin gets no Authorization, as Go's http client drops it on a cross-domain redirect, and a
 * token realm on plain HTTP elsewhere is refused rather than sent the password.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import type { Readable } from 'node:stream';
import { basicAuth, parseChallenges, TokenCache, type Challenge, type Credentials } from './auth';
import { describeErrors, isTransient, RegistryError } from './errors';

export interface TransportOptions {
  /** Credentials for a registry host ("docker.io", "localhost:5000"); undefined: anonymous. */
  credentials?: (host: string) => Credentials | undefined | Promise<Credentials | undefined>;
  /** Hosts ("host:port" or "host") allowed over plain HTTP / unverified TLS besides loopback. */
  insecureRegistries?: readonly string[];
  /** Attempts for transient failures (default 5) and the first back-off delay (default 500 ms). */
  attempts?: number;
  retryDelayMs?: number;
  userAgent?: string;
  /** Socket inactivity timeout (default 60 s). */
  timeoutMs?: number;
  /** Name resolution for connections (default: the system's, dns.lookup). */
  lookup?: LookupFunction;
}

export interface RegistryRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** A path under the registry ("/v2/...") or an absolute URL (upload locations). */
  path: string;
  headers?: Record<string, string>;
  /** A replayable body: a buffer, or a function opening the stream again. */
  body?: Buffer | (() => Readable);
  /** Scopes the request needs a bearer token for. */
  scopes?: readonly string[];
  /** Statuses that are an answer; anything else is thrown as a RegistryError. */
  expect: readonly number[];
}

export interface RegistryResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  url: URL;
  body: http.IncomingMessage;
}

/** Registry host name to connect to: Docker Hub's API lives at registry-1.docker.io. */
export function endpointHost(domain: string): string {
  return domain === 'docker.io' || domain === 'index.docker.io' ? 'registry-1.docker.io' : domain;
}

/** Loopback hosts, where Docker allows plain HTTP without configuration. */
export function isLoopback(host: string): boolean {
  let name = host;
  const bracket = /^\[([^\]]+)\](?::\d+)?$/.exec(host);
  if (bracket) name = bracket[1]!;
  else if (host.split(':').length === 2) name = host.split(':')[0]!;
  if (name === 'localhost' || name === '::1') return true;
  return isIP(name) === 4 && name.startsWith('127.');
}

export async function readBody(res: http.IncomingMessage, limit = 4 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res) {
    n += (c as Buffer).length;
    if (n > limit) {
      res.destroy();
      throw new RegistryError('protocol', `registry response larger than ${limit} bytes`);
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Run `fn` again on transient failures, with exponential back-off (Retry-After of a 429 is honoured up to 10 s). */
export async function withRetry<T>(
  fn: (attempt: number) => Promise<T>,
  opts: { attempts?: number; delayMs?: number; onRetry?: (e: unknown, attempt: number) => void } = {},
): Promise<T> {
  const attempts = opts.attempts ?? 5;
  let delay = opts.delayMs ?? 500;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      if (attempt >= attempts || !isTransient(e)) throw e;
      opts.onRetry?.(e, attempt);
      const after = (e as { retryAfterMs?: number }).retryAfterMs;
      await sleep(Math.min(after ?? delay, 10_000));
      delay *= 2;
    }
  }
}

/** One registry host and its authentication state. */
export class RegistryHost {
  readonly endpoint: string;
  private base: Promise<string> | undefined;
  private challenge: Challenge | undefined;
  private readonly tokens = new TokenCache();
  private creds: Promise<Credentials | undefined> | undefined;
  private readonly agentHttp = new http.Agent({ keepAlive: true, maxSockets: 16 });
  private readonly agentHttps: https.Agent;

  constructor(
    readonly domain: string,
    readonly opts: TransportOptions = {},
  ) {
    this.endpoint = endpointHost(domain);
    this.agentHttps = new https.Agent({ keepAlive: true, maxSockets: 16, rejectUnauthorized: !this.insecure });
  }

  /** Whether plain HTTP and unverified TLS are allowed for this host. */
  get insecure(): boolean {
    return this.insecureHost(this.endpoint) || (this.opts.insecureRegistries ?? []).includes(this.domain);
  }

  /** Loopback, or listed in insecureRegistries as "host:port" or "host". */
  private insecureHost(hostPort: string): boolean {
    return isLoopback(hostPort) || (this.opts.insecureRegistries ?? []).some((h) => h === hostPort || h === hostPort.replace(/:\d+$/, ''));
  }

  /** Whether `url` may be sent the registry's credentials: its own origin, and TLS unless insecure is allowed. */
  private mayAuthorize(url: URL, base: string): boolean {
    return url.origin === new URL(base).origin && (url.protocol === 'https:' || (url.protocol === 'http:' && this.insecureHost(url.host)));
  }

  close(): void {
    this.agentHttp.destroy();
    this.agentHttps.destroy();
  }

  private credentials(): Promise<Credentials | undefined> {
    this.creds ??= Promise.resolve(this.opts.credentials?.(this.domain));
    return this.creds;
  }

  /** "https://host" or, for insecure hosts that do not speak TLS, "http://host"; learns the auth challenge. */
  baseUrl(): Promise<string> {
    this.base ??= this.ping().catch((e: unknown) => {
      this.base = undefined;
      throw e;
    });
    return this.base;
  }

  private async ping(): Promise<string> {
    const tryBase = async (base: string): Promise<string> => {
      const res = await this.send('GET', new URL('/v2/', base), {}, undefined);
      res.body.resume();
      if (res.status === 401) this.challenge = parseChallenges(res.headers['www-authenticate'])[0];
      else if (res.status >= 500) throw new RegistryError('protocol', `registry ${this.domain} answered /v2/ with ${res.status}`, res.status);
      return base;
    };
    const secure = `https://${this.endpoint}`;
    if (!this.insecure) return withRetry(() => tryBase(secure), this.retryOpts());
    try {
      return await tryBase(secure);
    } catch (e) {
      if (e instanceof RegistryError && e.status !== undefined) throw e;
      return withRetry(() => tryBase(`http://${this.endpoint}`), this.retryOpts());
    }
  }

  retryOpts(): { attempts: number; delayMs: number } {
    return { attempts: this.opts.attempts ?? 5, delayMs: this.opts.retryDelayMs ?? 500 };
  }

  /** One raw exchange; connection failures become transient RegistryErrors. */
  private send(method: string, url: URL, headers: Record<string, string>, body: Buffer | Readable | undefined): Promise<RegistryResponse> {
    return new Promise((resolve, reject) => {
      const mod = url.protocol === 'https:' ? https : http;
      const h: Record<string, string> = { 'User-Agent': this.opts.userAgent ?? 'gantry/0.1 (registry client)', ...headers };
      if (Buffer.isBuffer(body)) h['Content-Length'] = String(body.length);
      const req = mod.request(url, {
        method,
        headers: h,
        agent: url.protocol === 'https:' ? this.agentHttps : this.agentHttp,
        timeout: this.opts.timeoutMs ?? 60_000,
        ...(this.opts.lookup ? { lookup: this.opts.lookup } : {}),
      });
      req.on('response', (res) => resolve({ status: res.statusCode ?? 0, headers: res.headers, url, body: res }));
      req.on('timeout', () => req.destroy(Object.assign(new Error(`timeout talking to ${url.host}`), { code: 'ETIMEDOUT' })));
      req.on('error', (e: NodeJS.ErrnoException) => {
        const transient = isTransient(e) || e.code === 'ECONNREFUSED';
        reject(transient ? Object.assign(new RegistryError('transport', `${method} ${url.origin}${url.pathname}: ${e.message}`), { code: e.code }) : e);
      });
      if (body === undefined) req.end();
      else if (Buffer.isBuffer(body)) req.end(body);
      else {
        body.on('error', (e) => req.destroy(e));
        body.pipe(req);
      }
    });
  }

  private async authorization(scopes: readonly string[]): Promise<string | undefined> {
    const c = this.challenge;
    if (!c) return undefined;
    const creds = await this.credentials();
    if (c.scheme === 'basic') return creds ? basicAuth(creds) : undefined;
    if (creds?.registryToken) return `Bearer ${creds.registryToken}`;
    const cached = this.tokens.get(scopes);
    if (cached) return `Bearer ${cached}`;
    const token = await this.fetchToken(c, scopes, creds);
    return `Bearer ${token}`;
  }

  /** GET (or, with an identity token, POST) the challenge's realm for a token covering `scopes`. */
  private async fetchToken(c: Challenge, scopes: readonly string[], creds: Credentials | undefined): Promise<string> {
    const realm = c.params.realm;
    if (!realm) throw new RegistryError('auth', `registry ${this.domain} sent a bearer challenge without a realm`);
    const url = new URL(realm);
    const headers: Record<string, string> = {};
    let body: Buffer | undefined;
    let method = 'GET';
    if (creds?.identityToken) {
      method = 'POST';
      const form = new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: creds.identityToken,
        client_id: 'gantry',
        service: c.params.service ?? '',
      });
      for (const s of scopes) form.append('scope', s);
      body = Buffer.from(form.toString());
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
    } else {
      if (c.params.service) url.searchParams.set('service', c.params.service);
      for (const s of scopes) url.searchParams.append('scope', s);
      const basic = creds ? basicAuth(creds) : undefined;
      if (basic) {
        headers.Authorization = basic;
        if (creds?.username) url.searchParams.set('account', creds.username);
      }
    }
    const secret = creds?.identityToken !== undefined || headers.Authorization !== undefined;
    if (secret && url.protocol !== 'https:' && !(url.protocol === 'http:' && this.insecureHost(url.host))) {
      throw new RegistryError(
        'auth',
        `refusing to send credentials for ${this.domain} to the token server ${url.origin} over plain HTTP (add ${url.host} to the insecure registries to allow it)`,
      );
    }
    const get = async () => {
      const res = await this.send(method, url, headers, body);
      const text = (await readBody(res.body, 1024 * 1024)).toString('utf8');
      if (res.status === 401 || res.status === 403) {
        throw new RegistryError(
          'auth',
          `${method === 'GET' ? 'Get' : 'Post'} "${url.origin}${url.pathname}": unauthorized: ${describeErrors(text) ?? (creds ? 'incorrect username or password' : 'authentication required')}`,
          res.status,
        );
      }
      if (res.status !== 200) throw new RegistryError('auth', `token server ${url.origin} answered ${res.status}`, res.status);
      let parsed: { token?: string; access_token?: string; expires_in?: number };
      try {
        parsed = JSON.parse(text) as typeof parsed;
      } catch {
        throw new RegistryError('auth', `token server ${url.origin} sent a malformed answer`);
      }
      const token = parsed.token ?? parsed.access_token;
      if (!token) throw new RegistryError('auth', `token server ${url.origin} sent no token`);
      this.tokens.set(scopes, token, parsed.expires_in ?? 60);
      return token;
    };
    return withRetry(get, this.retryOpts());
  }

  /**
   * Send `r` with the Authorization its scopes need; on a 401 with a new challenge, authorise
   * again once. GET/HEAD follow redirects (without Authorization to another host).
   */
  async request(r: RegistryRequest): Promise<RegistryResponse> {
    const base = await this.baseUrl();
    const scopes = r.scopes ?? [];
    let url = new URL(r.path, base);
    const open = () => (r.body === undefined ? undefined : Buffer.isBuffer(r.body) ? r.body : r.body());
    // an absolute path (an upload location the registry gave) may name another origin: no credentials there
    const authorize = this.mayAuthorize(url, base);
    let auth = authorize ? await this.authorization(scopes) : undefined;
    let res = await this.send(r.method, url, { ...r.headers, ...(auth ? { Authorization: auth } : {}) }, open());
    if (res.status === 401 && authorize) {
      const fresh = parseChallenges(res.headers['www-authenticate'])[0];
      res.body.resume();
      if (fresh) {
        const hadAuth = auth !== undefined;
        this.challenge = fresh;
        if (fresh.scheme === 'bearer') this.tokens.clear();
        auth = await this.authorization(
          fresh.scheme === 'bearer' && fresh.params.scope && !scopes.includes(fresh.params.scope) ? [...scopes, fresh.params.scope] : scopes,
        );
        if (auth && (!hadAuth || fresh.scheme === 'bearer')) res = await this.send(r.method, url, { ...r.headers, Authorization: auth }, open());
      }
    }
    for (let hops = 0; (r.method === 'GET' || r.method === 'HEAD') && [301, 302, 303, 307, 308].includes(res.status) && hops < 5; hops++) {
      const loc = res.headers.location;
      res.body.resume();
      if (!loc) break;
      const next = new URL(loc, url);
      // Authorization only within the registry's origin: a redirect to storage elsewhere, or to
      // plain HTTP, must not carry the password or the token
      const headers = { ...r.headers, ...(auth && this.mayAuthorize(next, base) ? { Authorization: auth } : {}) };
      url = next;
      res = await this.send(r.method, url, headers, undefined);
    }
    if (!r.expect.includes(res.status)) throw await this.failure(r, res);
    return res;
  }

  private async failure(r: RegistryRequest, res: RegistryResponse): Promise<RegistryError> {
    const text = r.method === 'HEAD' ? '' : (await readBody(res.body, 64 * 1024).catch(() => Buffer.alloc(0))).toString('utf8');
    const detail = describeErrors(text);
    const what = `${r.method} ${res.url.pathname}`;
    const s = res.status;
    let err: RegistryError;
    if (s === 401) {
      const creds = await this.credentials();
      err = new RegistryError(
        'auth',
        this.challenge?.scheme === 'basic' && !creds ? 'no basic auth credentials' : (detail ?? 'unauthorized: authentication required'),
        s,
      );
    } else if (s === 403) err = new RegistryError('auth', detail ?? 'denied: requested access to the resource is denied', s);
    else if (s === 404) err = new RegistryError('not-found', detail ?? `${what}: not found`, s);
    else if (s >= 500 || s === 429) err = new RegistryError('protocol', `${what}: registry answered ${s}${detail ? `: ${detail}` : ''}`, s);
    else err = new RegistryError('protocol', `${what}: unexpected status ${s}${detail ? `: ${detail}` : ''}`, s);
    const retryAfter = Number(res.headers['retry-after']);
    if (s === 429 && Number.isFinite(retryAfter)) Object.assign(err, { retryAfterMs: retryAfter * 1000 });
    return err;
  }

  /** Check the credentials (docker login): `GET /v2/` must succeed with them. */
  async login(): Promise<void> {
    const base = await this.baseUrl();
    try {
      (await this.request({ method: 'GET', path: '/v2/', expect: [200] })).body.resume();
    } catch (e) {
      if (e instanceof RegistryError && e.status === 401)
        throw new RegistryError('auth', `login attempt to ${base}/v2/ failed with status: 401 Unauthorized`, 401);
      throw e;
    }
  }
}
