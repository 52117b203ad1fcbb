/**
 * gantryd's gRPC client of gantry-containerd: one channel for every service, the namespace on every
 * call, and calls that wait for a restarting daemon (up to their deadline) instead of failing at
 * once with UNAVAILABLE. A Version server in this process stands in for gantry-containerd.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { connectivityState, Server, ServerCredentials, status } from '@grpc/grpc-js';
import { namespaceOf, version } from '@gantry/api';
import { Containerd } from '../src/containerd/client';

const children: ChildProcess[] = [];

/**
 * A Version server in a child process (so it can die as gantry-containerd does, by SIGKILL with the
 * connection open): it answers with `tag` and the call's namespace, or kills itself mid-call.
 */
function serveInChild(sock: string, tag: string, dieOnCall: boolean): ChildProcess & { ready: Promise<void> } {
  const script = `
    const grpc = require('@grpc/grpc-js');
    const { version, namespaceOf } = require('@gantry/api');
    require('node:fs').rmSync(${JSON.stringify(sock)}, { force: true });
    const s = new grpc.Server();
    s.addService(version.VersionService, { version: (call, cb) => ${dieOnCall ? "process.kill(process.pid, 'SIGKILL')" : `cb(null, { version: ${JSON.stringify(tag)}, revision: namespaceOf(call.metadata) || '' })`} });
    s.bindAsync('unix://${sock}', grpc.ServerCredentials.createInsecure(), (e) => { if (e) throw e; process.stdout.write('listening\\n'); });`;
  const child = spawn(process.execPath, ['-e', script], { cwd: path.join(__dirname, '..'), stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('listening') && resolve());
    child.once('exit', (code, signal) => reject(new Error(`test server exited (${code ?? signal}) before listening`)));
  });
  ready.catch(() => undefined);
  return Object.assign(child, { ready });
}

describe('Containerd client', () => {
  let dir: string;
  let sock: string;
  let cd: Containerd;
  const servers: Server[] = [];

  /** A Version server on `sock` that answers with `tag` and the namespace the call carried. */
  async function serve(tag: string): Promise<Server> {
    fs.rmSync(sock, { force: true });
    const s = new Server();
    s.addService(version.VersionService, {
      version: (call, cb) => cb(null, { version: tag, revision: namespaceOf(call.metadata) ?? '' }),
    } satisfies version.VersionServer);
    await new Promise<void>((resolve, reject) => s.bindAsync(`unix://${sock}`, ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())));
    servers.push(s);
    return s;
  }

  /** Resolves when the channel leaves `from` (a call is queued and the channel is trying). */
  function stateChange(from: connectivityState): Promise<void> {
    return new Promise((resolve) => cd.channel.watchConnectivityState(from, Date.now() + 10000, () => resolve()));
  }

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gcdc-'));
    sock = path.join(dir, 'c.sock');
    cd = new Containerd(sock);
  });

  afterEach(() => {
    cd.close();
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const s of servers.splice(0)) s.forceShutdown();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('every service client rides on one channel', () => {
    const clients = [cd.containers, cd.tasks, cd.images, cd.content, cd.snapshots, cd.diff, cd.leases, cd.events, cd.version, cd.introspection, cd.archives];
    for (const c of clients) expect(c.getChannel()).toBe(cd.channel);
  });

  it('sends the engine namespace on every call', async () => {
    await serve('a');
    const r = await cd.call(cd.version, cd.version.version, {});
    expect(r).toEqual({ version: 'a', revision: 'gantry' });
  });

  it('a call made while gantry-containerd is down waits for it to come back', async () => {
    const first = await serve('first');
    expect((await cd.call(cd.version, cd.version.version, {})).version).toBe('first');
    // the daemon dies: the connection breaks and the socket is refused
    first.forceShutdown();
    await stateChange(connectivityState.READY);
    const pending = cd.call(cd.version, cd.version.version, {}, 20000);
    let settled = false;
    void pending.then(
      () => (settled = true),
      () => (settled = true),
    );
    // the call is queued, not failed, while the channel reconnects in vain
    await stateChange(cd.channel.getConnectivityState(false));
    expect(settled).toBe(false);
    await serve('second');
    expect(await pending).toEqual({ version: 'second', revision: 'gantry' });
  });

  it('a call cut by the daemon dying under it (kill -9) fails with UNAVAILABLE; callIdempotent sends it again to the restarted one', async () => {
    // a daemon in its own process that SIGKILLs itself while it serves a call
    await serveInChild(sock, 'dying', true).ready;
    await expect(cd.call(cd.version, cd.version.version, {}, 10000)).rejects.toMatchObject({ code: status.UNAVAILABLE });
    // again, and once it has died (its exit event) the next one starts on the same socket
    const here = sock;
    const second = serveInChild(here, 'dying', true);
    const back = new Promise<void>((resolve) => second.once('exit', () => resolve(serveInChild(here, 'back', false).ready)));
    await second.ready;
    expect(await cd.callIdempotent(cd.version, cd.version.version, {}, 10000)).toEqual({ version: 'back', revision: 'gantry' });
    await back;
  });

  it('the wait is bounded by the call deadline', async () => {
    const t0 = Date.now();
    await expect(cd.call(cd.version, cd.version.version, {}, 300)).rejects.toMatchObject({ code: status.DEADLINE_EXCEEDED });
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('ready() resolves once the daemon answers and rejects after its timeout', async () => {
    await expect(cd.ready(200)).rejects.toThrow(/not reachable/);
    await serve('x');
    await expect(cd.ready(10000)).resolves.toBeUndefined();
  });
});
