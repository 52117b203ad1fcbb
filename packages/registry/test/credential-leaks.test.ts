/**
 * Where the registry client sends credentials: never over plain HTTP to a host not configured
 * insecure, never across a redirect or upload location to another origin (host, port or scheme),
 * never to a plain-HTTP token realm elsewhere. Local HTTP servers stand for the registry, a
 * storage host and a token server; names like registry.test resolve to 127.0.0.1 through the
 * transport's `lookup`, so the client's loopback exception does not apply to them.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { RegistryHost } from '../src';
import { makePki } from '@gantry/testkit';
import { describeIf, needTool } from '@gantry/testkit';

interface Seen {
  method: string;
  url: string;
  authorization?: string;
}

/**
 * An HTTP server that records every request and answers with `answer`. With a certificate it
 * speaks HTTPS and plain HTTP on the same port (told apart by the first byte, 0x16 opening a TLS
 * handshake), so that a redirect can change only the scheme.
 */
class Recorder {
  readonly seen: Seen[] = [];
  private readonly plain: http.Server;
  private readonly secure?: https.Server;
  private readonly front: net.Server;
  port = 0;

  constructor(
    private readonly answer: (req: http.IncomingMessage, res: http.ServerResponse) => void,
    tls?: { key: Buffer; cert: Buffer },
  ) {
    const handle = (scheme: string) => (req: http.IncomingMessage, res: http.ServerResponse) => {
      this.seen.push({ method: req.method ?? '', url: tls ? `${scheme}:${req.url ?? ''}` : (req.url ?? ''), authorization: req.headers.authorization });
      req.resume();
      req.on('end', () => this.answer(req, res));
    };
    this.plain = http.createServer(handle('http'));
    if (tls) this.secure = https.createServer(tls, handle('https'));
    this.front = net.createServer((sock) => {
      sock.once('readable', () => {
        const first: Buffer | null = sock.read(1);
        if (first === null) return sock.destroy();
        sock.unshift(first);
        (first[0] === 0x16 && this.secure ? this.secure : this.plain).emit('connection', sock);
      });
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.front.listen(0, '127.0.0.1', r));
    this.port = (this.front.address() as net.AddressInfo).port;
    return this;
  }

  stop(): Promise<void> {
    this.plain.closeAllConnections();
    this.secure?.closeAllConnections();
    return new Promise((r) => this.front.close(() => r()));
  }

  get authorized(): Seen[] {
    return this.seen.filter((s) => s.authorization !== undefined);
  }
}

/** Every *.test name is 127.0.0.1 (Node may ask for one address or for all). */
const lookup = ((hostname: string, options: { all?: boolean }, cb: (...a: unknown[]) => void) => {
  if (!hostname.endsWith('.test')) return cb(Object.assign(new Error(`unexpected lookup of ${hostname}`), { code: 'ENOTFOUND' }));
  if (options?.all) cb(null, [{ address: '127.0.0.1', family: 4 }]);
  else cb(null, '127.0.0.1', 4);
}) as unknown as net.LookupFunction;

const creds = { username: 'alice', password: 's3cret' };
const BASIC = `Basic ${Buffer.from('alice:s3cret').toString('base64')}`;

describe('credentials stay with the registry', () => {
  let registry: Recorder;
  let storage: Recorder;
  let tokens: Recorder;
  let bearerRegistry: Recorder;
  let clients: RegistryHost[] = [];

  const host = (name: string, port: number, insecure: string[]) => {
    const h = new RegistryHost(`${name}:${port}`, { credentials: () => creds, insecureRegistries: insecure, lookup, attempts: 1, retryDelayMs: 1 });
    clients.push(h);
    return h;
  };

  beforeAll(async () => {
    storage = await new Recorder((_req, res) => res.end('blob')).start();
    registry = await new Recorder((req, res) => {
      if (!req.headers.authorization) {
        res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="test"' });
        return res.end();
      }
      const u = req.url ?? '';
      if (u.startsWith('/v2/r/blobs/elsewhere')) res.writeHead(307, { Location: `http://storage.test:${storage.port}/b/1` });
      else if (u.startsWith('/v2/r/blobs/otherport')) res.writeHead(307, { Location: `http://registry.test:${storage.port}/b/2` });
      else if (u.startsWith('/v2/r/blobs/tls')) res.writeHead(307, { Location: `https://registry.test:${registry.port}/b/3` });
      else if (u.startsWith('/v2/r/blobs/here')) res.writeHead(307, { Location: '/storage/here' });
      else res.writeHead(200);
      res.end('ok');
    }).start();
    tokens = await new Recorder((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ token: 'tok-123', expires_in: 300 }));
    }).start();
    bearerRegistry = await new Recorder((req, res) => {
      if (req.headers.authorization !== 'Bearer tok-123') {
        res.writeHead(401, { 'WWW-Authenticate': `Bearer realm="http://auth.test:${tokens.port}/token",service="reg"` });
        return res.end();
      }
      if ((req.url ?? '').startsWith('/v2/r/blobs/elsewhere')) res.writeHead(307, { Location: `http://storage.test:${storage.port}/b/4` });
      else res.writeHead(200);
      res.end('ok');
    }).start();
  });

  afterEach(() => {
    for (const c of clients) c.close();
    clients = [];
    for (const r of [registry, storage, tokens, bearerRegistry]) r.seen.length = 0;
  });

  afterAll(async () => {
    await Promise.all([registry, storage, tokens, bearerRegistry].map((r) => r.stop()));
  });

  it('does not speak plain HTTP, let alone send credentials, to a registry not configured insecure', async () => {
    const h = host('registry.test', registry.port, []);
    await expect(h.login()).rejects.toThrow(); // TLS against a plain server, and no fallback to HTTP
    expect(registry.seen).toEqual([]); // a TLS hello is not an HTTP request: nothing was read as one
  });

  it('sends Basic credentials over plain HTTP to a registry configured insecure (by host:port or host)', async () => {
    for (const insecure of [`registry.test:${registry.port}`, 'registry.test']) {
      const h = host('registry.test', registry.port, [insecure]);
      await h.login();
      expect(registry.authorized.map((s) => s.authorization)).toEqual([BASIC]);
      registry.seen.length = 0;
    }
  });

  it('drops Authorization on a redirect to another host, port or scheme, keeps it within the origin', async () => {
    const h = host('registry.test', registry.port, [`registry.test:${registry.port}`, 'storage.test']);
    const get = (p: string, expect: number[] = [200]) => h.request({ method: 'GET', path: p, expect }).then((r) => (r.body.resume(), r.status));

    expect(await get('/v2/r/blobs/elsewhere')).toBe(200);
    expect(storage.seen).toEqual([{ method: 'GET', url: '/b/1', authorization: undefined }]);

    expect(await get('/v2/r/blobs/otherport')).toBe(200); // same name, another port: another origin
    expect(storage.seen[1]).toEqual({ method: 'GET', url: '/b/2', authorization: undefined });

    // to https on the registry's own host:port: the plain server cannot answer TLS, but it must not see the credentials
    await expect(get('/v2/r/blobs/tls')).rejects.toThrow();
    expect(registry.seen.filter((s) => s.url === '/b/3')).toEqual([]);

    expect(await get('/v2/r/blobs/here')).toBe(200);
    expect(registry.seen.find((s) => s.url === '/storage/here')).toEqual({ method: 'GET', url: '/storage/here', authorization: BASIC });
  });

  it('sends no credentials to an upload location on another origin', async () => {
    const h = host('registry.test', registry.port, [`registry.test:${registry.port}`, 'storage.test']);
    const res = await h.request({ method: 'PUT', path: `http://storage.test:${storage.port}/upload/1?digest=sha256:0`, body: Buffer.from('x'), expect: [200] });
    res.body.resume();
    expect(storage.seen).toEqual([{ method: 'PUT', url: '/upload/1?digest=sha256:0', authorization: undefined }]);
    const own = await h.request({ method: 'PUT', path: `http://registry.test:${registry.port}/upload/2`, body: Buffer.from('x'), expect: [200] });
    own.body.resume();
    expect(registry.seen.find((s) => s.url === '/upload/2')?.authorization).toBe(BASIC);
  });

  it('refuses to send the password to a plain-HTTP token realm on a host not configured insecure', async () => {
    const h = host('registry.test', bearerRegistry.port, [`registry.test:${bearerRegistry.port}`]);
    await expect(h.login()).rejects.toThrow(/refusing to send credentials for registry\.test:\d+ to the token server http:\/\/auth\.test:\d+ over plain HTTP/);
    expect(tokens.seen).toEqual([]);
  });

  it('fetches a token anonymously from such a realm, and with the password once that host is configured insecure', async () => {
    const anon = new RegistryHost(`registry.test:${bearerRegistry.port}`, {
      insecureRegistries: [`registry.test:${bearerRegistry.port}`],
      lookup,
      attempts: 1,
    });
    clients.push(anon);
    await anon.login();
    expect(tokens.seen).toHaveLength(1);
    expect(tokens.seen[0]!.authorization).toBeUndefined();
    tokens.seen.length = 0;
    const h = host('registry.test', bearerRegistry.port, [`registry.test:${bearerRegistry.port}`, 'auth.test']);
    await h.login();
    expect(tokens.authorized.map((s) => s.authorization)).toEqual([BASIC]);
  });

  it('does not forward a bearer token across a redirect to another host', async () => {
    const h = host('registry.test', bearerRegistry.port, [`registry.test:${bearerRegistry.port}`, 'auth.test', 'storage.test']);
    const res = await h.request({ method: 'GET', path: '/v2/r/blobs/elsewhere', scopes: ['repository:r:pull'], expect: [200] });
    res.body.resume();
    expect(bearerRegistry.authorized.map((s) => s.authorization)).toContain('Bearer tok-123');
    expect(storage.seen).toEqual([{ method: 'GET', url: '/b/4', authorization: undefined }]);
  });
});

describeIf(needTool('openssl'))('credentials and a change of scheme', () => {
  let dir: string;
  let registry: Recorder;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'greg-tls-'));
    const pki = makePki(dir);
    registry = await new Recorder(
      (req, res) => {
        if (!req.headers.authorization && !(req.url ?? '').startsWith('/b/')) {
          res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="test"' });
          return res.end();
        }
        if ((req.url ?? '').startsWith('/v2/r/blobs/downgrade')) res.writeHead(307, { Location: `http://registry.test:${registry.port}/b/plain` });
        else res.writeHead(200);
        res.end('ok');
      },
      { key: fs.readFileSync(pki.serverKey), cert: fs.readFileSync(pki.serverCert) },
    ).start();
  }, 30000);

  afterAll(async () => {
    await registry?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('drops Authorization on a redirect from https to http on the same host and port', async () => {
    // configured insecure: its certificate is not checked, and plain HTTP is allowed, yet a scheme change is another origin
    const h = new RegistryHost(`registry.test:${registry.port}`, { credentials: () => creds, insecureRegistries: ['registry.test'], lookup, attempts: 1 });
    try {
      const res = await h.request({ method: 'GET', path: '/v2/r/blobs/downgrade', expect: [200] });
      res.body.resume();
    } finally {
      h.close();
    }
    expect(registry.seen.find((s) => s.url === 'https:/v2/r/blobs/downgrade' && s.authorization === BASIC)).toBeDefined();
    expect(registry.seen.filter((s) => s.url === 'http:/b/plain')).toEqual([{ method: 'GET', url: 'http:/b/plain', authorization: undefined }]);
  });
});
