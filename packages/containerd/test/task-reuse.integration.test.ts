/**
 * A container's task can be created again right after it was deleted (`docker run --name x; docker
 * rm x; docker run --name x`, and every `docker restart`), two tasks can be created at once, and two
 * Creates of one task at once give one task and an "already exists", never a half-started second
 * shim. Terminal tasks with docker-length ids: their console sockets are named by hash in the short
 * shim socket directory, where a name left behind or taken twice fails bind() with EADDRINUSE.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { status as Code } from '@grpc/grpc-js';
import { containers, tasks, types } from '@gantry/api';
import { describeIf, needRoot } from '@gantry/testkit';
import { SPEC_TYPE } from '../src/services/tasks';
import { busyboxSpec, call, TestDaemon, waitFor } from './helpers';

const d = describeIf(needRoot());
const NS = 'test';

/** A docker-like id: 64 hex digits, so the console socket path is too long for the bundle dir. */
function dockerId(tag: string): string {
  return Buffer.from(tag.padEnd(32, '-')).toString('hex').slice(0, 64);
}

d('gantry-containerd: tasks created again and at once (root)', () => {
  let daemon: TestDaemon;
  let spec: Record<string, unknown>;

  beforeAll(async () => {
    daemon = new TestDaemon();
    await daemon.start();
    spec = busyboxSpec(daemon.dir, ['sh', '-c', 'echo tty']);
  });

  afterAll(async () => {
    await daemon?.stop();
  });

  async function container(id: string): Promise<void> {
    await call(
      daemon.containers,
      daemon.containers.create,
      {
        container: containers.Container.fromPartial({
          id,
          runtime: { name: 'io.containerd.gantry.v1' },
          spec: { typeUrl: SPEC_TYPE, value: Buffer.from(JSON.stringify({ ...spec, process: { ...(spec.process as object), terminal: true } })) },
        }),
      },
      NS,
    );
  }

  const create = (id: string) =>
    daemon.explain(call(daemon.tasks, daemon.tasks.create, tasks.CreateTaskRequest.fromPartial({ containerId: id, terminal: true }), NS));

  async function runToEnd(id: string): Promise<number> {
    await call(daemon.tasks, daemon.tasks.start, { containerId: id, execId: '' }, NS);
    const { exitStatus } = await call(daemon.tasks, daemon.tasks.wait, { containerId: id, execId: '' }, NS);
    await call(daemon.tasks, daemon.tasks.delete, { containerId: id }, NS);
    return exitStatus;
  }

  /** Sockets in the shims' socket directory other than live shims' own. */
  function consoleSockets(): string[] {
    const dir = path.join(daemon.dir, 'state', 's');
    return fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.startsWith('c-')) : [];
  }

  it('creates a terminal task of the same id again right after each delete', async () => {
    const id = dockerId('again');
    await container(id);
    for (let i = 0; i < 6; i++) {
      await create(id);
      expect(await runToEnd(id)).toBe(0);
      expect(consoleSockets()).toEqual([]);
    }
  }, 120_000);

  it('creates two terminal tasks at once', async () => {
    const ids = [dockerId('two-a'), dockerId('two-b')];
    for (const id of ids) await container(id);
    await Promise.all(ids.map((id) => create(id)));
    expect(await Promise.all(ids.map((id) => runToEnd(id)))).toEqual([0, 0]);
    expect(consoleSockets()).toEqual([]);
  }, 120_000);

  it('answers two Creates of one task at once with one task and "already exists"', async () => {
    const id = dockerId('twice');
    await container(id);
    const results = await Promise.allSettled([create(id), create(id)]);
    const failed = results.filter((r) => r.status === 'rejected');
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(failed).toHaveLength(1);
    expect((failed[0] as PromiseRejectedResult).reason).toMatchObject({ code: Code.ALREADY_EXISTS });
    expect(await runToEnd(id)).toBe(0);
    expect(consoleSockets()).toEqual([]);
    // and the id is free again
    await create(id);
    expect(await runToEnd(id)).toBe(0);
  }, 120_000);

  it('creates a terminal task again after its shim was killed (kill -9 leaves the console socket file)', async () => {
    const id = dockerId('killed');
    await container(id);
    await create(id);
    const shimPid = Number(fs.readFileSync(path.join(daemon.dir, 'state', 'tasks', NS, id, 'shim.pid'), 'utf8'));
    process.kill(shimPid, 'SIGKILL');
    await waitFor('the daemon to report the task stopped', async () => {
      const got = await call(daemon.tasks, daemon.tasks.get, { containerId: id, execId: '' }, NS).catch(() => undefined);
      return got?.process?.status === types.Status.STOPPED;
    });
    await call(daemon.tasks, daemon.tasks.delete, { containerId: id }, NS);
    await create(id);
    expect(await runToEnd(id)).toBe(0);
    expect(consoleSockets()).toEqual([]);
  }, 120_000);
});
