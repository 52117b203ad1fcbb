/**
 * A registry front for tests: an HTTP proxy before a real docker-registry that can demand bearer
 * tokens (issued by a small token server of its own, scoped per repository and action, signed
 * with HMAC as a JWT-ish "header.claims.signature") and inject faults through `intercept`.
 */
import { createHmac, randomBytes } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Access {
  type: string;
  name: string;
  actions: string[];
}

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

export class TokenServer {
  readonly secret = randomBytes(16);
  server!: http.Server;
  port = 0;
  issued: { scope: string[]; account?: string }[] = [];

  constructor(readonly users: Record<string, string> = {}) {}

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const auth = req.headers.authorization;
      let account: string | undefined;
      if (auth?.startsWith('Basic ')) {
        const [u, ...p] = Buffer.from(auth.slice(6), 'base64').toString().split(':');
        if (this.users[u!] !== p.join(':')) {
          res.writeHead(401, { 'Content-Type': 'application/json' });
          return res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'incorrect username or password' }] }));
        }
        account = u;
      }
      const scope = url.searchParams.getAll('scope');
      const access: Access[] = scope.map((s) => {
        const [type, ...rest] = s.split(':');
        const actions = rest.pop()!.split(',');
        // anonymous callers may pull, not push
        return { type: type!, name: rest.join(':'), actions: account ? actions : actions.filter((a) => a === 'pull') };
      });
      this.issued.push({ scope, ...(account ? { account } : {}) });
      const claims = b64({ iss: 'gantry-test', sub: account ?? '', aud: url.searchParams.get('service'), exp: Math.floor(Date.now() / 1000) + 300, access });
      const head = b64({ alg: 'HS256', typ: 'JWT' });
      const sig = createHmac('sha256', this.secret).update(`${head}.${claims}`).digest('base64url');
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ token: `${head}.${claims}.${sig}`, expires_in: 300, issued_at: new Date().toISOString() }));
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** The access list of a token this server signed, or undefined for a forged or foreign one. */
  verify(token: string): Access[] | undefined {
    const [head, claims, sig] = token.split('.');
    if (!head || !claims || !sig) return undefined;
    if (createHmac('sha256', this.secret).update(`${head}.${claims}`).digest('base64url') !== sig) return undefined;
    const c = JSON.parse(Buffer.from(claims, 'base64url').toString()) as { exp: number; access: Access[] };
    return c.exp * 1000 > Date.now() ? c.access : undefined;
  }

  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

export type Interceptor = (req: http.IncomingMessage, res: http.ServerResponse) => boolean;

export class RegistryProxy {
  server!: http.Server;
  port = 0;
  /** Return true when the request was answered by the interceptor. */
  intercept: Interceptor | undefined;
  requests: string[] = [];
  /** Upstream responses may be rewritten: (req path, body) → new body. */
  rewrite: ((path: string, body: Buffer) => Buffer | undefined) | undefined;

  constructor(
    readonly upstream: string,
    readonly tokens?: TokenServer,
  ) {}

  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  private authorised(req: http.IncomingMessage): { ok: true } | { ok: false; scope: string } {
    const m = /^\/v2\/(.+)\/(manifests|blobs|tags)\//.exec(req.url ?? '');
    const push = !['GET', 'HEAD'].includes(req.method ?? 'GET');
    const need = m ? { name: m[1]!, action: push ? 'push' : 'pull' } : undefined;
    const scope = need ? `repository:${need.name}:${push ? 'pull,push' : 'pull'}` : '';
    const auth = req.headers.authorization;
    if (!auth?.startsWith('Bearer ')) return { ok: false, scope };
    const access = this.tokens!.verify(auth.slice(7));
    if (!access) return { ok: false, scope };
    if (!need) return { ok: true };
    const mount = new URL(req.url ?? '/', 'http://x').searchParams.get('from');
    const allowed = (name: string, action: string) => access.some((a) => a.type === 'repository' && a.name === name && a.actions.includes(action));
    if (!allowed(need.name, need.action)) return { ok: false, scope };
    if (mount && !allowed(mount, 'pull')) return { ok: true }; // the registry then answers 202 (no mount)
    return { ok: true };
  }

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      this.requests.push(`${req.method} ${req.url}`);
      if (this.intercept?.(req, res)) return;
      if (this.tokens) {
        const a = this.authorised(req);
        if (!a.ok) {
          res.writeHead(401, {
            'Content-Type': 'application/json',
            'WWW-Authenticate': `Bearer realm="http://127.0.0.1:${this.tokens.port}/token",service="gantry-test"${a.scope ? `,scope="${a.scope}"` : ''}`,
          });
          req.resume();
          return res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
        }
      }
      const headers = { ...req.headers };
      delete headers.authorization;
      const up = http.request(`http://${this.upstream}${req.url}`, { method: req.method, headers }, (ur) => {
        const rewrite = this.rewrite;
        if (rewrite && req.method === 'GET') {
          const chunks: Buffer[] = [];
          ur.on('data', (c: Buffer) => chunks.push(c));
          ur.on('end', () => {
            const body = rewrite(req.url ?? '', Buffer.concat(chunks)) ?? Buffer.concat(chunks);
            res.writeHead(ur.statusCode ?? 502, { ...ur.headers, 'content-length': String(body.length) });
            res.end(body);
          });
          return;
        }
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        ur.pipe(res);
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}
