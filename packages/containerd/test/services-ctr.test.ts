/**
 * Debian's real containerd client (`ctr`, containerd 1.6) against our services: proof that the
 * namespaces, containers, events, version and introspection services answer it as containerd would.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { type containers, namespaceMetadata, type namespaces } from '@gantry/api';
import { describeIfTool, newContainer, rpc, startHarness, type Harness } from './services-harness';
import { waitFor } from '@gantry/testkit';

const run = promisify(execFile);

describeIfTool('ctr', 'containerd')('ctr against the gantry-containerd services', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h?.close());

  const ctr = async (...args: string[]): Promise<string> => {
    const { stdout } = await run('ctr', ['--address', h.sock, '--timeout', '10s', ...args], { timeout: 20000 });
    return stdout;
  };
  const rows = (out: string) =>
    out
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/));
  const create = (ns: string, c: containers.Container) =>
    rpc<containers.CreateContainerResponse>((cb) => h.containers.create({ container: c }, namespaceMetadata(ns), cb));

  test('ctr version prints our server version', async () => {
    expect(await ctr('version')).toMatch(/Server:\s*\n\s*Version:\s+0\.1\.0\n\s*Revision:\s+\S+\n\s*UUID:\s+[0-9a-f-]{36}/);
  });

  test('ctr plugins ls lists our plugins', async () => {
    const out = rows(await ctr('plugins', 'ls'));
    expect(out[0]).toEqual(['TYPE', 'ID', 'PLATFORMS', 'STATUS']);
    for (const id of ['containers', 'events', 'introspection', 'namespaces', 'tasks', 'version'])
      expect(out).toContainEqual(['io.containerd.grpc.v1', id, '-', 'ok']);
    expect(out.find((r) => r[0] === 'io.containerd.runtime.v2')).toEqual(['io.containerd.runtime.v2', 'task', expect.stringMatching(/^linux\//), 'ok']);
  });

  test('ctr namespaces create, ls, rm', async () => {
    await ctr('namespaces', 'create', 'ctrns', 'team=gantry');
    expect(rows(await ctr('namespaces', 'ls'))).toContainEqual(['ctrns', 'team=gantry']);
    await ctr('namespaces', 'label', 'ctrns', 'team=other');
    const got = await rpc<namespaces.GetNamespaceResponse>((cb) => h.ns.get({ name: 'ctrns' }, namespaceMetadata('default'), cb));
    expect(got.namespace?.labels).toEqual({ team: 'other' });
    await ctr('namespaces', 'rm', 'ctrns');
    expect(rows(await ctr('namespaces', 'ls')).map((r) => r[0])).not.toContain('ctrns');
    await expect(ctr('namespaces', 'create', 'ctrns', 'a=b').then(() => ctr('namespaces', 'create', 'ctrns'))).rejects.toMatchObject({
      stderr: expect.stringMatching(/already exists/),
    });
  });

  test('ctr containers ls, info, label, rm', async () => {
    expect(rows(await ctr('-n', 'x', 'containers', 'ls'))).toEqual([['CONTAINER', 'IMAGE', 'RUNTIME']]);
    await create('x', newContainer('box-1', { labels: { app: 'demo' } }));
    expect(rows(await ctr('-n', 'x', 'containers', 'ls'))).toEqual([
      ['CONTAINER', 'IMAGE', 'RUNTIME'],
      ['box-1', 'docker.io/library/busybox:latest', 'io.containerd.runc.v2'],
    ]);
    expect(rows(await ctr('-n', 'x', 'containers', 'ls', 'labels.app==demo')).length).toBe(2);
    expect(rows(await ctr('-n', 'x', 'containers', 'ls', '-q'))).toEqual([['box-1']]);

    const info = JSON.parse(await ctr('-n', 'x', 'containers', 'info', 'box-1')) as Record<string, unknown>;
    expect(info).toMatchObject({
      ID: 'box-1',
      Labels: { app: 'demo' },
      Image: 'docker.io/library/busybox:latest',
      Runtime: { Name: 'io.containerd.runc.v2' },
      Spec: { ociVersion: '1.0.2-dev', process: { args: ['sh'] } },
    });
    expect(new Date(info.CreatedAt as string).getTime()).toBeGreaterThan(Date.now() - 60_000);

    // ctr prints the labels the update returned
    expect(await ctr('-n', 'x', 'containers', 'label', 'box-1', 'k=v')).toMatch(/(^|,)k=v(,|$)/m);
    const got = await rpc<containers.GetContainerResponse>((cb) => h.containers.get({ id: 'box-1' }, namespaceMetadata('x'), cb));
    expect(got.container?.labels).toEqual({ app: 'demo', k: 'v' });
    await ctr('-n', 'x', 'containers', 'label', 'box-1', 'app=');
    const after = await rpc<containers.GetContainerResponse>((cb) => h.containers.get({ id: 'box-1' }, namespaceMetadata('x'), cb));
    expect(after.container?.labels).toEqual({ k: 'v' });

    await expect(ctr('-n', 'x', 'containers', 'info', 'nope')).rejects.toMatchObject({ stderr: expect.stringMatching(/not found/) });
    await ctr('-n', 'x', 'containers', 'rm', 'box-1');
    expect(rows(await ctr('-n', 'x', 'containers', 'ls'))).toEqual([['CONTAINER', 'IMAGE', 'RUNTIME']]);
  });

  test('ctr events prints a /containers/create line when a container is created', async () => {
    let out = '';
    let child: ChildProcess | undefined;
    try {
      // no --timeout: it would end the subscription
      child = spawn('ctr', ['--address', h.sock, 'events'], { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
      child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
      const before = h.exchange.subscribers;
      await waitFor('ctr events to subscribe', () => h.exchange.subscribers > before);
      await create('evns', newContainer('ev-1'));
      await waitFor(`a /containers/create line from ctr events (got ${JSON.stringify(out)})`, () => out.includes('/containers/create'));
      const line = out.split('\n').find((l) => l.includes('/containers/create'))!;
      expect(line).toMatch(/ evns \/containers\/create \{.*"id":"ev-1".*\}/);
      expect(line).toMatch(/"image":"docker.io\/library\/busybox:latest"/);
    } finally {
      if (child?.pid !== undefined && child.exitCode === null) {
        const exited = new Promise((r) => child!.once('exit', r));
        process.kill(child.pid, 'SIGTERM');
        await exited;
      }
    }
    await waitFor('the subscription to end when ctr exits', () => h.exchange.subscribers === 0);
  });
});
