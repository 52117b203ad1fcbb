/**
 * The API's doors: -H / -G / TLS flags, the unix socket's mode and group from the moment it
 * exists, the refusal of unauthenticated TCP off loopback, mutual TLS, and the timeouts that drop
 * slow clients while long-lived streams (GET /events) live on.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { Logger } from '@gantry/linux';
import type { EngineContext } from '../src/context';
import { ContainerStore } from '../src/containers/store';
import { EngineEvents } from '../src/events';
import { parseFlags } from '../src/flags';
import { isLoopbackIp, ListenerConfigError, loadTlsMaterial, parseHost, prepareListeners, resolveSocketGroup } from '../src/http/listeners';
import { Router } from '../src/http/router';
import { ApiServer } from '../src/http/server';
import { registerEventRoutes } from '../src/routes/events';
import { ImageService } from '../src/images/service';
import { makePki, type Pki } from '@gantry/testkit';
import { describeIf, needTool } from '@gantry/testkit';

const log = new Logger('error');
let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gdoors-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('-H and the TLS flags', () => {
  it('parses dockerd-style addresses', () => {
    expect(parseHost('unix:///run/x.sock')).toEqual({ proto: 'unix', path: '/run/x.sock' });
    expect(parseHost('unix://')).toEqual({ proto: 'unix', path: '/run/gantry/gantry.sock' });
    expect(parseHost('/run/y.sock')).toEqual({ proto: 'unix', path: '/run/y.sock' });
    expect(parseHost('tcp://0.0.0.0:2376')).toEqual({ proto: 'tcp', host: '0.0.0.0', port: 2376 });
    expect(parseHost('tcp://:2375')).toEqual({ proto: 'tcp', host: '127.0.0.1', port: 2375 });
    expect(parseHost('tcp://127.0.0.1')).toEqual({ proto: 'tcp', host: '127.0.0.1', port: undefined });
    expect(parseHost('tcp://[::1]:9')).toEqual({ proto: 'tcp', host: '::1', port: 9 });
    expect(parseHost('10.0.0.1:2375')).toEqual({ proto: 'tcp', host: '10.0.0.1', port: 2375 });
    expect(parseHost('tcp://host.example:2376/')).toEqual({ proto: 'tcp', host: 'host.example', port: 2376 });
    for (const bad of ['', 'ssh://me@host', 'unix://relative.sock', 'tcp://1.2.3.4:99999', 'tcp://[zz]:1', 'tcp://a:b']) {
      expect(() => parseHost(bad)).toThrow(ListenerConfigError);
    }
  });

  it('parses repeatable -H, -G and the TLS flags; defaults to the unix socket', () => {
    const d = parseFlags([]);
    expect(d).toMatchObject({ hosts: [{ proto: 'unix', path: '/run/gantry/gantry.sock' }] });
    expect(d !== 'help' && [d.tls, d.socketGroup, d.insecureTcp]).toEqual([undefined, undefined, undefined]);
    const f = parseFlags([
      '-H',
      'unix:///tmp/a.sock',
      '--host=tcp://127.0.0.1:2376',
      '-G',
      'wheel',
      '--tlsverify',
      '--tlscacert',
      '/c/ca.pem',
      '--tlscert=/c/cert.pem',
      '--tlskey',
      '/c/key.pem',
    ]);
    expect(f).toMatchObject({
      hosts: [
        { proto: 'unix', path: '/tmp/a.sock' },
        { proto: 'tcp', host: '127.0.0.1', port: 2376 },
      ],
      socketGroup: 'wheel',
      tls: { tls: false, verify: true, caFile: '/c/ca.pem', certFile: '/c/cert.pem', keyFile: '/c/key.pem' },
    });
    expect(parseFlags(['--tls', '--tlsverify=false', '--insecure-tcp'])).toMatchObject({ tls: { tls: true, verify: false }, insecureTcp: true });
    expect(parseFlags(['--group='])).toMatchObject({ socketGroup: '' });
    expect(parseFlags(['--init', '--init-path', '/usr/bin/tini-static'])).toMatchObject({ init: true, initPath: '/usr/bin/tini-static' });
    expect(d !== 'help' && [d.init, d.initPath]).toEqual([undefined, undefined]);
    expect(() => parseFlags(['--tlsverify=maybe'])).toThrow(/true or false/);
    expect(() => parseFlags(['-H'])).toThrow('flag needs an argument: -H');
    expect(() => parseFlags(['--foo'])).toThrow('unknown flag: --foo');
    expect(parseFlags(['--insecure-registry', 'a:5000', '--insecure-registry=b', '-l', 'debug', '-b', 'br1'])).toMatchObject({
      insecureRegistries: ['a:5000', 'b'],
      logLevel: 'debug',
      defaultBridge: 'br1',
    });
    expect(() => parseFlags(['--log-level', 'loud'])).toThrow('invalid --log-level loud');
    expect(parseFlags(['--help'])).toBe('help');
    expect(() => parseFlags(['-H', 'ssh://me@host'])).toThrow(/unsupported/);
  });

  it('resolves --group by name or number; a missing default group means root only, a missing explicit one is an error', () => {
    const groups = path.join(tmp, 'group');
    fs.writeFileSync(groups, 'root:x:0:\ndocker:x:4711:alice\nstaff:x:50:\n');
    const warnings: string[] = [];
    expect(resolveSocketGroup(undefined, { groupFile: groups })).toBe(4711);
    expect(resolveSocketGroup('staff', { groupFile: groups })).toBe(50);
    expect(resolveSocketGroup('1234', { groupFile: groups })).toBe(1234);
    expect(resolveSocketGroup('', { groupFile: groups })).toBe(process.getgid!());
    const noDocker = path.join(tmp, 'group2');
    fs.writeFileSync(noDocker, 'root:x:0:\n');
    expect(resolveSocketGroup(undefined, { groupFile: noDocker, warn: (m) => warnings.push(m) })).toBe(process.getgid!());
    expect(warnings).toEqual([expect.stringContaining('group docker not found')]);
    expect(() => resolveSocketGroup('nosuchgroup', { groupFile: noDocker })).toThrow(/group nosuchgroup not found/);
  });

  it('knows loopback addresses', () => {
    for (const ip of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) expect(isLoopbackIp(ip)).toBe(true);
    for (const ip of ['0.0.0.0', '::', '10.1.2.3', '::ffff:10.0.0.1', '128.0.0.1']) expect(isLoopbackIp(ip)).toBe(false);
  });

  it('refuses TCP without client certificates on a non-loopback address unless --insecure-tcp, warns on loopback', async () => {
    const lookup = async (h: string) => ({ 'lan.example': '192.168.1.5', 'me.example': '127.0.0.1' })[h] ?? h;
    const warnings: string[] = [];
    const warn = (m: string) => warnings.push(m);
    await expect(prepareListeners({ hosts: [parseHost('tcp://0.0.0.0:2375')], lookup, warn })).rejects.toThrow(
      /refusing to listen on tcp:\/\/0\.0\.0\.0:2375.*--tlsverify.*--insecure-tcp/,
    );
    await expect(prepareListeners({ hosts: [parseHost('tcp://lan.example')], lookup, warn })).rejects.toThrow(/tcp:\/\/lan\.example:2375 \(192\.168\.1\.5\)/);
    expect(warnings).toEqual([]);
    const forced = await prepareListeners({ hosts: [parseHost('tcp://0.0.0.0:2375')], insecureTcp: true, lookup, warn });
    expect(forced).toEqual([{ proto: 'tcp', address: '0.0.0.0', port: 2375, tls: undefined }]);
    expect(warnings.pop()).toMatch(/without --tlsverify.*anyone who can reach it.*root/);
    const local = await prepareListeners({ hosts: [parseHost('tcp://me.example')], lookup, warn });
    expect(local).toEqual([{ proto: 'tcp', address: '127.0.0.1', port: 2375, tls: undefined }]);
    expect(warnings.pop()).toMatch(/every local user/);
  });

  it('reads the certificates at start, with dockerd default names under $DOCKER_CERT_PATH', () => {
    const dir = path.join(tmp, 'certs');
    fs.mkdirSync(dir);
    for (const f of ['ca.pem', 'cert.pem', 'key.pem']) fs.writeFileSync(path.join(dir, f), f);
    const env = { DOCKER_CERT_PATH: dir };
    expect(loadTlsMaterial({ tls: false, verify: false }, env)).toBeUndefined();
    expect(loadTlsMaterial({ tls: false, verify: true }, env)).toEqual({
      verify: true,
      ca: Buffer.from('ca.pem'),
      cert: Buffer.from('cert.pem'),
      key: Buffer.from('key.pem'),
    });
    expect(loadTlsMaterial({ tls: true, verify: false }, env)).toEqual({ verify: false, cert: Buffer.from('cert.pem'), key: Buffer.from('key.pem') });
    expect(() => loadTlsMaterial({ tls: true, verify: true, caFile: path.join(dir, 'nope.pem') }, env)).toThrow(/could not read --tlscacert .*nope\.pem/);
    const warnings: string[] = [];
    fs.chmodSync(path.join(dir, 'key.pem'), 0o644);
    loadTlsMaterial({ tls: true, verify: false }, env, (m) => warnings.push(m));
    fs.chmodSync(path.join(dir, 'key.pem'), 0o600);
    loadTlsMaterial({ tls: true, verify: false }, env, (m) => warnings.push(m));
    expect(warnings).toEqual([expect.stringMatching(/--tlskey .*key\.pem is readable or writable by group or others \(mode 644\)/)]);
  });
});

/** A worker thread that lists `dir` and lstat()s every entry as fast as it can until told to stop. */
function startObserver(dir: string, gid: number): { ready: Promise<void>; passes: () => number; stop: () => Promise<{ seen: number; wide: string[] }> } {
  const flag = new Int32Array(new SharedArrayBuffer(8)); // [0]: stop, [1]: passes over the directory done
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const fs = require('node:fs');
    const { dir, gid, flag } = workerData;
    let seen = 0; const wide = new Set(); let first = true;
    while (Atomics.load(flag, 0) === 0) {
      let names = [];
      try { names = fs.readdirSync(dir); } catch {}
      for (const n of names) {
        let st; try { st = fs.lstatSync(dir + '/' + n); } catch { continue; }
        const mode = st.mode & 0o7777;
        if (st.isSocket()) { seen++; if (mode !== 0o660 || st.gid !== gid) wide.add(n + ' socket ' + mode.toString(8) + ' gid ' + st.gid); }
        else if (st.isDirectory() && mode !== 0o700) wide.add(n + ' dir ' + mode.toString(8));
      }
      Atomics.add(flag, 1, 1);
      if (first) { first = false; parentPort.postMessage('ready'); }
    }
    parentPort.postMessage({ seen, wide: [...wide] });`;
  const w = new Worker(code, { eval: true, workerData: { dir, gid, flag } });
  const ready = new Promise<void>((resolve, reject) => {
    w.once('message', () => resolve());
    w.once('error', reject);
  });
  const stop = async () => {
    const result = new Promise<{ seen: number; wide: string[] }>((resolve) =>
      w.on('message', (m: unknown) => typeof m === 'object' && resolve(m as { seen: number; wide: string[] })),
    );
    Atomics.store(flag, 0, 1);
    const r = await result;
    await w.terminate();
    return r;
  };
  return { ready, passes: () => Atomics.load(flag, 1), stop };
}

describe('the unix socket', () => {
  const gid = 4711; // not the test's own group: chown must have happened

  it('exists only with mode 0660 and the --group gid, replaces a stale socket, and close removes only our own', async () => {
    if (process.getuid!() !== 0) return expect(process.getuid!()).not.toBe(0); // chown to another group needs root: covered by the root run
    const dir = fs.mkdtempSync(path.join(tmp, 'u-'));
    const sock = path.join(dir, 'api.sock');
    fs.writeFileSync(sock, 'stale');
    const s = new ApiServer(new Router(), log);
    expect(await s.listen({ proto: 'unix', path: sock, gid })).toBe(`unix://${sock}`);
    const st = fs.lstatSync(sock);
    expect({ socket: st.isSocket(), mode: (st.mode & 0o7777).toString(8), uid: st.uid, gid: st.gid }).toEqual({ socket: true, mode: '660', uid: 0, gid });
    expect(fs.readdirSync(dir)).toEqual(['api.sock']); // the temporary directory is gone
    const r = await request({ socketPath: sock, path: '/nothing' });
    expect(r.status).toBe(404);
    // another daemon's socket put there meanwhile is not ours to remove
    fs.renameSync(sock, path.join(dir, 'moved.sock'));
    const successor = net.createServer().listen(sock);
    await new Promise((r) => successor.once('listening', r));
    await s.close();
    expect(fs.lstatSync(sock).isSocket()).toBe(true);
    await new Promise((r) => successor.close(r));
    const s2 = new ApiServer(new Router(), log);
    await s2.listen({ proto: 'unix', path: sock, gid });
    await s2.close();
    expect(fs.existsSync(sock)).toBe(false);
  });

  it('is never seen with a wider mode or another group by a process watching its directory', async () => {
    if (process.getuid!() !== 0) return expect(process.getuid!()).not.toBe(0);
    const dir = fs.mkdtempSync(path.join(tmp, 'w-'));
    const sock = path.join(dir, 'api.sock');
    const obs = startObserver(dir, gid);
    await obs.ready;
    for (let i = 0; i < 40; i++) {
      const s = new ApiServer(new Router(), log);
      await s.listen({ proto: 'unix', path: sock, gid });
      await s.close();
    }
    // control: a socket bound in place the plain way (umask's mode, our group) is what the observer reports
    const naive = net.createServer().listen(path.join(dir, 'naive.sock'));
    await new Promise((r) => naive.once('listening', r));
    const p = obs.passes();
    while (obs.passes() < p + 2) await new Promise((r) => setImmediate(r)); // a whole pass began after it existed
    const r = await obs.stop();
    await new Promise((r2) => naive.close(r2));
    expect(r.seen).toBeGreaterThan(0);
    expect(r.wide.filter((w) => !w.startsWith('naive.sock'))).toEqual([]);
    expect(r.wide.some((w) => w.startsWith('naive.sock socket'))).toBe(true);
  });
});

interface Answer {
  status: number;
  body: string;
}

function request(o: https.RequestOptions & { body?: string | Buffer }, mod: typeof http | typeof https = http): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = mod.request({ agent: false, ...o }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

/** A raw TCP client: resolves with what it got and how long it lived once the server closes it. */
function rawClient(port: number, payload: string): { socket: net.Socket; closed: Promise<{ got: string; ms: number }> } {
  const started = Date.now();
  const socket = net.connect(port, '127.0.0.1', () => socket.write(payload));
  let got = '';
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => (got += d));
  socket.on('error', () => undefined);
  const closed = new Promise<{ got: string; ms: number }>((resolve) => socket.on('close', () => resolve({ got, ms: Date.now() - started })));
  return { socket, closed };
}

describe('timeouts against slow clients', () => {
  let server: ApiServer;
  let events: EngineEvents;
  let port: number;
  /** POST /gated waits for this before it reads its body. */
  let gate: Promise<void> = Promise.resolve();
  const T = { headersMs: 400, keepAliveMs: 400, bodyIdleMs: 400, checkIntervalMs: 50 };

  beforeAll(async () => {
    events = new EngineEvents();
    const ctx = { log, events, dataRoot: path.join(tmp, 'data'), started: new Date() } as unknown as EngineContext;
    const router = new Router();
    registerEventRoutes(router, ctx, new ContainerStore(path.join(tmp, 'data')), new ImageService(ctx.cd));
    router.post('/echo', async (c) => ({ n: (await c.raw()).length }));
    router.post('/gated', async (c) => {
      await gate;
      return { n: (await c.raw(8 << 20)).length };
    });
    server = new ApiServer(router, log, T);
    const where = await server.listen({ proto: 'tcp', address: '127.0.0.1', port: 0 });
    port = Number(/:(\d+)$/.exec(where)![1]);
  });
  afterAll(() => server.close());

  it('drops half a header, a silent connection, a stalled body and an idle keep-alive, while an /events stream outlives them all', async () => {
    // the stream: GET /events, whose response never ends on its own
    const lines: string[] = [];
    let streamClosed = false;
    let onLine: (() => void) | undefined;
    const stream = http.get({ host: '127.0.0.1', port, path: '/v1.45/events', agent: false });
    const streaming = new Promise<http.IncomingMessage>((resolve, reject) => {
      stream.on('response', resolve);
      stream.on('error', reject);
    });
    const res = await streaming;
    expect(res.statusCode).toBe(200);
    res.setEncoding('utf8');
    res.on('data', (d: string) => {
      lines.push(...d.split('\n').filter(Boolean));
      onLine?.();
    });
    res.on('close', () => (streamClosed = true));

    const half = rawClient(port, 'GET /v1.45/_ping HTTP/1.1\r\nHost: x\r\nUser-Ag');
    const silent = rawClient(port, '');
    const stalled = rawClient(port, 'POST /v1.45/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 10\r\n\r\nab');
    const keepAlive = rawClient(port, 'POST /v1.45/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc');
    const [h, s, b, k] = await Promise.all([half.closed, silent.closed, stalled.closed, keepAlive.closed]);
    expect(h.got).toMatch(/^HTTP\/1\.1 408/);
    expect(h.ms).toBeGreaterThanOrEqual(T.headersMs - 20);
    expect(s.ms).toBeGreaterThanOrEqual(T.headersMs - 20);
    expect(b.got).toBe(''); // no answer: the body never came
    expect(b.ms).toBeGreaterThanOrEqual(T.bodyIdleMs - 20);
    expect(k.got).toMatch(/^HTTP\/1\.1 200 OK[\s\S]*\{"n":3\}/);

    // every timeout has passed; the stream is still open and still delivers
    expect(streamClosed).toBe(false);
    const delivered = new Promise<void>((resolve) => (onLine = resolve));
    events.emit('container', 'start', 'abc123', { name: 'late' });
    await delivered;
    expect(JSON.parse(lines[lines.length - 1]!)).toMatchObject({ Type: 'container', Action: 'start', Actor: { ID: 'abc123' } });
    stream.destroy();
  });

  it('does not drop a client whose body the server is slow to read', async () => {
    let open!: () => void;
    gate = new Promise((r) => (open = r));
    const big = Buffer.alloc(4 << 20, 'a'); // more than the socket and stream buffers hold: the client is held back by us
    const answers = Promise.all(
      [big, Buffer.from('small')].map((body) =>
        request({ host: '127.0.0.1', port, method: 'POST', path: '/v1.45/gated', headers: { 'Content-Length': body.length }, body }),
      ),
    );
    // the gate opens once a stalled client has been dropped: the idle timeout has passed meanwhile
    const stalled = rawClient(port, 'POST /v1.45/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab');
    await stalled.closed;
    open();
    expect(await answers).toEqual([
      { status: 200, body: `{"n":${4 << 20}}\n` },
      { status: 200, body: '{"n":5}\n' },
    ]);
  });

  it('keeps a slow but steady body (each piece within the idle timeout)', async () => {
    const c = net.connect(port, '127.0.0.1');
    let got = '';
    c.setEncoding('utf8');
    const answered = new Promise<void>((resolve) => c.on('data', (d: string) => ((got += d), got.includes('}') && resolve())));
    c.write('POST /v1.45/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\n');
    // the client's pace is what is tested here (not a wait for the server): a piece every
    // bodyIdleMs/5, so the whole body takes longer than the idle timeout, no gap reaches it
    const started = Date.now();
    for (let i = 0; i < 8; i++) {
      await new Promise((r) => setTimeout(r, T.bodyIdleMs / 5));
      c.write('x');
    }
    await answered;
    expect(got).toMatch(/\{"n":8\}/);
    expect(Date.now() - started).toBeGreaterThan(T.bodyIdleMs);
    c.destroy();
  });
});

describeIf(needTool('openssl'))('mutual TLS', () => {
  let pki: Pki;
  let other: Pki;
  let server: ApiServer;
  let port: number;

  beforeAll(async () => {
    pki = makePki(path.join(tmp, 'pki'));
    other = makePki(path.join(tmp, 'pki-other'), 'intruder');
    const router = new Router();
    router.get('/_ping', () => 'OK');
    server = new ApiServer(router, log);
    const tls = loadTlsMaterial({ tls: false, verify: true, caFile: pki.ca, certFile: pki.serverCert, keyFile: pki.serverKey })!;
    const where = await server.listen({ proto: 'tcp', address: '127.0.0.1', port: 0, tls });
    port = Number(/:(\d+)$/.exec(where)![1]);
  }, 30000);
  afterAll(() => server?.close());

  const get = (o: https.RequestOptions) => request({ host: '127.0.0.1', port, path: '/_ping', ca: fs.readFileSync(pki.ca), ...o }, https);

  it('serves a client with a certificate from the CA', async () => {
    expect(await get({ cert: fs.readFileSync(pki.clientCert), key: fs.readFileSync(pki.clientKey) })).toEqual({ status: 200, body: '"OK"\n' });
  });

  it('refuses a client without a certificate, and one whose certificate another CA signed', async () => {
    await expect(get({})).rejects.toThrow(/certificate|socket hang up|ECONNRESET/i);
    await expect(get({ cert: fs.readFileSync(other.clientCert), key: fs.readFileSync(other.clientKey) })).rejects.toThrow(
      /certificate|unknown ca|socket hang up|ECONNRESET/i,
    );
  });

  it('with --tls alone, serves TLS to a client without a certificate', async () => {
    const router = new Router();
    router.get('/_ping', () => 'OK');
    const tlsOnly = new ApiServer(router, log);
    try {
      const where = await tlsOnly.listen({
        proto: 'tcp',
        address: '127.0.0.1',
        port: 0,
        tls: loadTlsMaterial({ tls: true, verify: false, certFile: pki.serverCert, keyFile: pki.serverKey }),
      });
      const p = Number(/:(\d+)$/.exec(where)![1]);
      expect(await request({ host: '127.0.0.1', port: p, path: '/_ping', ca: fs.readFileSync(pki.ca) }, https)).toEqual({ status: 200, body: '"OK"\n' });
    } finally {
      await tlsOnly.close();
    }
  });

  it('refuses plain HTTP on the TLS port', async () => {
    await expect(request({ host: '127.0.0.1', port, path: '/_ping' })).rejects.toThrow(/socket hang up|ECONNRESET|parse/i);
  });
});
