/**
 * A runtime failure reaches the client of gantry-containerd with the runtime's own message (as
 * containerd wraps runc's: `failed to create shim task: OCI runtime create failed: <runtime>`),
 * and a failed create leaves nothing behind: no shim, bundle, mount or cgroup, no task.
 *
 * The daemon runs under `setpriv --bounding-set -sys_time`, a host whose bounding set lacks a
 * capability, so a container asking for CAP_SYS_TIME fails as `docker run --privileged` does there.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { status as Code } from '@grpc/grpc-js';
import { containers, tasks, types } from '@gantry/api';
import { SPEC_TYPE } from '../src/services/tasks';
import { busyboxSpec, call, TestDaemon, waitFor } from './helpers';
import { describeIf, needRoot, needTool } from '@gantry/testkit';

const d = describeIf(needRoot(), needTool('setpriv', 'util-linux'));
const NS = 'test';

type Spec = Record<string, unknown> & { root: { path: string }; process: { args: string[]; capabilities?: Record<string, string[]> } };

d('gantry-containerd: runtime failures reach the client (root, setpriv)', () => {
  let daemon: TestDaemon;
  let bundleSource: Spec;

  beforeAll(async () => {
    daemon = new TestDaemon(['setpriv', '--bounding-set', '-sys_time', '--']);
    await daemon.start();
    bundleSource = busyboxSpec(daemon.dir, ['sleep', '300']) as Spec;
  });

  afterAll(async () => {
    await daemon?.stop();
  });

  async function container(id: string, change: (s: Spec) => void): Promise<void> {
    const spec = JSON.parse(JSON.stringify(bundleSource)) as Spec;
    change(spec);
    await call(
      daemon.containers,
      daemon.containers.create,
      {
        container: containers.Container.fromPartial({
          id,
          runtime: { name: 'io.containerd.gantry.v1' },
          spec: { typeUrl: SPEC_TYPE, value: Buffer.from(JSON.stringify(spec)) },
        }),
      },
      NS,
    );
  }

  /** The shim gantry-containerd started for `id`, from its log. */
  function shimPidOf(id: string): number {
    const line = fs
      .readFileSync(daemon.logFile, 'utf8')
      .split('\n')
      .filter((l) => l.includes('"shim started"'))
      .map((l) => JSON.parse(l) as { id: string; shim_pid: number })
      .find((l) => l.id === id);
    if (!line || !(line.shim_pid > 0)) throw new Error(`no shim started for ${id}`);
    return line.shim_pid;
  }

  /** What is left of task `id` on the host. */
  function leftovers(id: string, shimPid: number): string[] {
    const out: string[] = [];
    const bundle = path.join(daemon.dir, 'state', 'tasks', NS, id);
    if (fs.existsSync(bundle)) out.push('bundle');
    try {
      const stat = fs.readFileSync(`/proc/${shimPid}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z') out.push(`shim ${shimPid}`);
    } catch {
      // gone
    }
    if (fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(bundle)) out.push('mount');
    for (const c of fs.readdirSync('/sys/fs/cgroup')) if (fs.existsSync(path.join('/sys/fs/cgroup', c, NS, id))) out.push(`cgroup ${c}`);
    if (fs.existsSync(path.join(daemon.dir, 'state', 'runtime', NS, id))) out.push('runtime state');
    return out;
  }

  const failure = (p: Promise<unknown>) =>
    p.then(
      () => undefined,
      (e: unknown) => e,
    );

  it('a capability outside the bounding set: "unable to apply caps: operation not permitted" as UNKNOWN, nothing left', async () => {
    await container('priv', (s) => {
      const caps = s.process.capabilities!;
      for (const set of ['bounding', 'effective', 'permitted']) caps[set] = [...(caps[set] ?? []), 'CAP_SYS_TIME'];
    });
    const rootfs = bundleSource.root.path;
    const err = await failure(
      call(
        daemon.tasks,
        daemon.tasks.create,
        tasks.CreateTaskRequest.fromPartial({ containerId: 'priv', rootfs: [{ type: 'bind', source: rootfs, options: ['rbind', 'ro'] }] }),
        NS,
      ),
    );
    expect(err).toMatchObject({
      code: Code.UNKNOWN,
      details: 'failed to create shim task: OCI runtime create failed: unable to apply caps: operation not permitted',
    });
    expect(leftovers('priv', shimPidOf('priv'))).toEqual([]);
    // no half-made task answers with a state error later
    await expect(call(daemon.tasks, daemon.tasks.start, { containerId: 'priv', execId: '' }, NS)).rejects.toMatchObject({ code: Code.NOT_FOUND });
    expect((await call(daemon.tasks, daemon.tasks.list, { filter: '' }, NS)).tasks).toEqual([]);
    await call(daemon.containers, daemon.containers.delete, { id: 'priv' }, NS);
  });

  it("a program that is not there: the runtime's exec message, nothing left", async () => {
    await container('nope', (s) => (s.process.args = ['nope']));
    const err = await failure(call(daemon.tasks, daemon.tasks.create, tasks.CreateTaskRequest.fromPartial({ containerId: 'nope' }), NS));
    expect(err).toMatchObject({
      code: Code.UNKNOWN,
      details: 'failed to create shim task: OCI runtime create failed: exec: "nope": executable file not found in $PATH',
    });
    expect(leftovers('nope', shimPidOf('nope'))).toEqual([]);
    await call(daemon.containers, daemon.containers.delete, { id: 'nope' }, NS);
  });

  it("an exec that fails: Tasks.Start of the exec answers the runtime's message; the task runs on", async () => {
    await container('box', () => undefined);
    await call(daemon.tasks, daemon.tasks.create, tasks.CreateTaskRequest.fromPartial({ containerId: 'box' }), NS);
    await call(daemon.tasks, daemon.tasks.start, { containerId: 'box', execId: '' }, NS);
    const exec = (execId: string, proc: Record<string, unknown>) =>
      call(
        daemon.tasks,
        daemon.tasks.exec,
        tasks.ExecProcessRequest.fromPartial({
          containerId: 'box',
          execId,
          spec: {
            typeUrl: 'types.containerd.io/opencontainers/runtime-spec/1/Process',
            value: Buffer.from(JSON.stringify({ cwd: '/', user: { uid: 0, gid: 0 }, env: ['PATH=/bin'], ...proc })),
          },
        }),
        NS,
      );
    await exec('e1', { args: ['nope'] });
    expect(await failure(call(daemon.tasks, daemon.tasks.start, { containerId: 'box', execId: 'e1' }, NS))).toMatchObject({
      code: Code.UNKNOWN,
      details: 'OCI runtime exec failed: exec: "nope": executable file not found in $PATH',
    });
    await exec('e2', { args: ['true'], capabilities: { bounding: ['CAP_SYS_TIME'], effective: ['CAP_SYS_TIME'], permitted: ['CAP_SYS_TIME'] } });
    expect(await failure(call(daemon.tasks, daemon.tasks.start, { containerId: 'box', execId: 'e2' }, NS))).toMatchObject({
      code: Code.UNKNOWN,
      details: 'OCI runtime exec failed: unable to apply caps: operation not permitted',
    });
    const got = await call(daemon.tasks, daemon.tasks.get, { containerId: 'box', execId: '' }, NS);
    expect(got.process?.status).toBe(types.Status.RUNNING);
    await call(daemon.tasks, daemon.tasks.kill, tasks.KillRequest.fromPartial({ containerId: 'box', signal: 9 }), NS);
    await call(daemon.tasks, daemon.tasks.wait, { containerId: 'box', execId: '' }, NS);
    await call(daemon.tasks, daemon.tasks.delete, { containerId: 'box' }, NS);
    await waitFor('box cleaned up', () => leftovers('box', shimPidOf('box')).length === 0);
  });
});
