/**
 * gantryd's gRPC client of gantry-containerd: one channel for every service, the namespace on every
 * call, and calls that wait for a restarting daemon (up to their deadline) instead of failing at
 * once with UNAVAILABLE. A Version server in this process stands in for gantry-containerd.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { connectivityState, Server, ServerCredentials, status } from '@grpc/grpc-js';
import { namespaceOf, version } from '@gantry/api';
import { Containerd } from '../src/containerd/client';

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
