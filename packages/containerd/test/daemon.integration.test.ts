import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import type { ClientReadableStream } from '@grpc/grpc-js';
import { callMetadata, clientOn, containers, events, namespaceMetadata, shim, tasks, types, unaryCall, unixChannel, unpackAny } from '@gantry/api';
import { SPEC_TYPE } from '../src/services/tasks';
import { busyboxSpec, call, TestDaemon, waitFor } from './helpers';
import { describeIf, needRoot } from '@gantry/testkit';

const d = describeIf(needRoot());
const NS = 'test';

function fifo(p: string): { text: () => string; close: () => void; path: string } {
  spawnSync('mkfifo', [p]);
  const sock = new net.Socket({ fd: fs.openSync(p, fs.constants.O_RDWR | fs.constants.O_NONBLOCK), readable: true, writable: false });
  let text = '';
  sock.on('data', (b: Buffer) => (text += b.toString()));
  return { text: () => text, close: () => sock.destroy(), path: p };
}

/** A subscription, once the daemon has registered it (it sends the response headers then). */
async function subscribe(daemon: TestDaemon, filters: string[] = []): Promise<{ topics: () => string[]; envelopes: events.Envelope[]; stop: () => void }> {
  const envelopes: events.Envelope[] = [];
  const stream: ClientReadableStream<events.Envelope> = daemon.events.subscribe({ filters }, namespaceMetadata(NS));
  stream.on('data', (e: events.Envelope) => envelopes.push(e));
  const failed = new Promise<never>((_, reject) => stream.on('error', reject));
  await Promise.race([new Promise((resolve) => stream.once('metadata', resolve)), failed]);
  failed.catch(() => undefined); // a cancel at the end is expected
  return { envelopes, topics: () => envelopes.map((e) => e.topic), stop: () => stream.cancel() };
}

async function createContainer(daemon: TestDaemon, id: string, args: string[]): Promise<void> {
  const spec = busyboxSpec(daemon.dir, args);
  await call(
    daemon.containers,
    daemon.containers.create,
    {
      container: containers.Container.fromPartial({
        id,
        image: 'busybox',
        runtime: { name: 'io.containerd.gantry.v1' },
        spec: { typeUrl: SPEC_TYPE, value: Buffer.from(JSON.stringify(spec)) },
      }),
    },
    NS,
  );
}

d('gantry-containerd with gantry-shim (root)', () => {
  let daemon: TestDaemon;
  let last: types.Process | undefined;

  beforeEach(async () => {
    daemon = new TestDaemon();
    await daemon.start();
  });

  afterEach(async () => {
    await daemon.stop();
  });

  it('creates, starts, execs, kills, waits and deletes a task, with every event on a subscription', async () => {
    const sub = await subscribe(daemon);
    await createContainer(daemon, 'c1', ['sh', '-c', 'echo hello; sleep 300']);
    const out = fifo(path.join(daemon.dir, 'out'));
    const created = await call(daemon.tasks, daemon.tasks.create, tasks.CreateTaskRequest.fromPartial({ containerId: 'c1', stdout: out.path }), NS);
    expect(created.pid).toBeGreaterThan(1);
    await call(daemon.tasks, daemon.tasks.start, { containerId: 'c1', execId: '' }, NS);
    await waitFor('hello on the stdout fifo', () => out.text() === 'hello\n');

    const got = await call(daemon.tasks, daemon.tasks.get, { containerId: 'c1', execId: '' }, NS);
    expect(got.process).toMatchObject({ containerId: 'c1', pid: created.pid, status: types.Status.RUNNING });

    const execOut = fifo(path.join(daemon.dir, 'exec-out'));
    const procSpec = { args: ['sh', '-c', 'echo from-exec; exit 3'], cwd: '/', user: { uid: 0, gid: 0 }, env: ['PATH=/bin'] };
    await call(
      daemon.tasks,
      daemon.tasks.exec,
      tasks.ExecProcessRequest.fromPartial({
        containerId: 'c1',
        execId: 'e1',
        stdout: execOut.path,
        spec: { typeUrl: 'types.containerd.io/opencontainers/runtime-spec/1/Process', value: Buffer.from(JSON.stringify(procSpec)) },
      }),
      NS,
    );
    await call(daemon.tasks, daemon.tasks.start, { containerId: 'c1', execId: 'e1' }, NS);
    expect((await call(daemon.tasks, daemon.tasks.wait, { containerId: 'c1', execId: 'e1' }, NS)).exitStatus).toBe(3);
    await waitFor('exec output', () => execOut.text() === 'from-exec\n');
    await call(daemon.tasks, daemon.tasks.deleteProcess, { containerId: 'c1', execId: 'e1' }, NS);

    const pids = await call(daemon.tasks, daemon.tasks.listPids, { containerId: 'c1' }, NS);
    expect(pids.processes.map((p) => p.pid)).toContain(created.pid);

    await call(daemon.tasks, daemon.tasks.kill, tasks.KillRequest.fromPartial({ containerId: 'c1', signal: 9 }), NS);
    const waited = await call(daemon.tasks, daemon.tasks.wait, { containerId: 'c1', execId: '' }, NS);
    expect(waited.exitStatus).toBe(137);
    const deleted = await call(daemon.tasks, daemon.tasks.delete, { containerId: 'c1' }, NS);
    expect(deleted).toMatchObject({ id: 'c1', pid: created.pid, exitStatus: 137 });
    await call(daemon.containers, daemon.containers.delete, { id: 'c1' }, NS);

    await waitFor('all events', () => sub.topics().includes('/containers/delete'));
    expect(sub.topics()).toEqual([
      '/containers/create',
      '/tasks/create',
      '/tasks/start',
      '/tasks/exec-added',
      '/tasks/exec-started',
      '/tasks/exit',
      '/tasks/delete',
      '/tasks/exit',
      '/tasks/delete',
      '/containers/delete',
    ]);
    const exits = sub.envelopes.filter((e) => e.topic === '/tasks/exit').map((e) => unpackAny(e.event, 'containerd.events.TaskExit', events.TaskExit));
    expect(exits.map((e) => [e?.id, e?.exitStatus])).toEqual([
      ['e1', 3],
      ['c1', 137],
    ]);
    expect(sub.envelopes.every((e) => e.namespace === NS)).toBe(true);
    sub.stop();
    out.close();
    execOut.close();
    // nothing left: no task, no bundle
    expect((await call(daemon.tasks, daemon.tasks.list, { filter: '' }, NS)).tasks).toEqual([]);
    expect(fs.readdirSync(path.join(daemon.dir, 'state', 'tasks', NS))).toEqual([]);
  });

  it('keeps a task running across kill -9 of the daemon, and reports its exit after the restart', async () => {
    await createContainer(daemon, 'survivor', ['sleep', '300']);
    const created = await call(daemon.tasks, daemon.tasks.create, tasks.CreateTaskRequest.fromPartial({ containerId: 'survivor' }), NS);
    await call(daemon.tasks, daemon.tasks.start, { containerId: 'survivor', execId: '' }, NS);
    await daemon.crash();
    expect(fs.existsSync(`/proc/${created.pid}`)).toBe(true);
    await daemon.start();
    const listed = await call(daemon.tasks, daemon.tasks.list, { filter: '' }, NS);
    expect(listed.tasks.map((t) => [t.id, t.pid, t.status])).toEqual([['survivor', created.pid, types.Status.RUNNING]]);
    const sub = await subscribe(daemon, ['topic=="/tasks/exit"']);
    const waiting = call(daemon.tasks, daemon.tasks.wait, { containerId: 'survivor', execId: '' }, NS);
    await call(daemon.tasks, daemon.tasks.kill, tasks.KillRequest.fromPartial({ containerId: 'survivor', signal: 9 }), NS);
    expect((await waiting).exitStatus).toBe(137);
    await waitFor('exit event after restart', () => sub.envelopes.length === 1);
    expect(unpackAny(sub.envelopes[0]!.event, 'containerd.events.TaskExit', events.TaskExit)).toMatchObject({
      containerId: 'survivor',
      exitStatus: 137,
      pid: created.pid,
    });
    sub.stop();
    await call(daemon.tasks, daemon.tasks.delete, { containerId: 'survivor' }, NS);
    await call(daemon.containers, daemon.containers.delete, { id: 'survivor' }, NS);
  });

  it('a shim found at restart without a task (its Create cut by kill -9 of the daemon): Delete stops it, the next Create works', async () => {
    await createContainer(daemon, 'cut', ['sleep', '300']);
    await call(daemon.tasks, daemon.tasks.create, tasks.CreateTaskRequest.fromPartial({ containerId: 'cut' }), NS);
    const bundle = path.join(daemon.dir, 'state', 'tasks', NS, 'cut');
    const shimPid = Number(fs.readFileSync(path.join(bundle, 'shim.pid'), 'utf8'));
    await daemon.crash();
    // the state a cut Create leaves: a live shim holding no task (here: its task deleted behind the daemon's back)
    const direct = clientOn(shim.TaskClient, unixChannel(fs.readFileSync(path.join(bundle, 'address'), 'utf8').trim()));
    await unaryCall(direct, direct.delete, { id: 'cut', execId: '' }, callMetadata(), 10000);
    direct.close();
    await daemon.start();
    await expect(call(daemon.tasks, daemon.tasks.delete, { containerId: 'cut' }, NS)).rejects.toMatchObject({ code: 5 });
    // before, the shim stayed registered: "task cut already exists", and the shim was left running
    await waitFor('shim gone', () => !fs.existsSync(`/proc/${shimPid}`) || fs.readFileSync(`/proc/${shimPid}/stat`, 'utf8').includes(') Z '));
    const again = await call(daemon.tasks, daemon.tasks.create, tasks.CreateTaskRequest.fromPartial({ containerId: 'cut' }), NS);
    expect(again.pid).toBeGreaterThan(1);
    await call(daemon.tasks, daemon.tasks.delete, { containerId: 'cut' }, NS);
    await call(daemon.containers, daemon.containers.delete, { id: 'cut' }, NS);
  });

  it('starts the next task on a warm spare shim, and the spare ends with the daemon (also on kill -9)', async () => {
    const spares = () =>
      fs.readdirSync('/proc').filter((p) => {
        try {
          const cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
          return cmd.includes('--warm') && cmd.includes(`${path.join(daemon.dir, 'state')}/`);
        } catch {
          return false;
        }
      });
    expect(spares()).toEqual([]);
    await createContainer(daemon, 'w1', ['sleep', '300']);
    await call(daemon.tasks, daemon.tasks.create, tasks.CreateTaskRequest.fromPartial({ containerId: 'w1' }), NS);
    await waitFor('a spare shim', () => spares().length === 1);
    const spare = Number(spares()[0]);
    // the spare has started its task's init stage already (@gantry/runtime's WarmInitStage)
    const childrenOf = (pid: number) =>
      fs.readdirSync('/proc').filter((p) => {
        try {
          return /^\d+$/.test(p) && fs.readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ')[1] === String(pid);
        } catch {
          return false;
        }
      });
    await waitFor("the spare's init stage", () => childrenOf(spare).length === 1);
    const stage = Number(childrenOf(spare)[0]);
    await createContainer(daemon, 'w2', ['sh', '-c', 'exit 4']);
    const created = await call(daemon.tasks, daemon.tasks.create, tasks.CreateTaskRequest.fromPartial({ containerId: 'w2' }), NS);
    expect(Number(fs.readFileSync(path.join(daemon.dir, 'state', 'tasks', NS, 'w2', 'shim.pid'), 'utf8'))).toBe(spare);
    expect(created.pid).toBe(stage);
    await call(daemon.tasks, daemon.tasks.start, { containerId: 'w2', execId: '' }, NS);
    expect((await call(daemon.tasks, daemon.tasks.wait, { containerId: 'w2', execId: '' }, NS)).exitStatus).toBe(4);
    expect(fs.readFileSync(path.join(daemon.dir, 'state', 'tasks', NS, 'w2', 'shim.log'), 'utf8')).toContain('"serving"');
    // the adopted spare keeps --warm on its command line: the new spare is the other one
    await waitFor('a new spare shim', () => spares().some((p) => Number(p) !== spare));
    const next = Number(spares().find((p) => Number(p) !== spare));
    await waitFor("the new spare's init stage", () => childrenOf(next).length === 1);
    const nextStage = Number(childrenOf(next)[0]);
    await daemon.crash();
    const gone = (pid: number) => !fs.existsSync(`/proc/${pid}`) || fs.readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z');
    await waitFor('the spare to exit with the daemon', () => gone(next));
    await waitFor("the spare's init stage to exit with it", () => gone(nextStage));
    await daemon.start();
    for (const id of ['w1', 'w2']) {
      await call(daemon.tasks, daemon.tasks.kill, tasks.KillRequest.fromPartial({ containerId: id, signal: 9 }), NS).catch(() => undefined);
      await call(daemon.tasks, daemon.tasks.delete, { containerId: id }, NS);
      await call(daemon.containers, daemon.containers.delete, { id }, NS);
    }
  }, 180_000); // three task starts and two daemon starts: ~20 s idle, past a minute on a loaded 2-core machine

  it('refuses calls without a namespace and tasks of unknown containers with clear gRPC errors', async () => {
    await expect(call(daemon.tasks, daemon.tasks.list, { filter: '' }, '')).rejects.toMatchObject({
      code: 3,
      details: expect.stringMatching(/namespace is required/),
    });
    await expect(call(daemon.tasks, daemon.tasks.create, tasks.CreateTaskRequest.fromPartial({ containerId: 'ghost' }), NS)).rejects.toMatchObject({ code: 5 });
    await expect(call(daemon.tasks, daemon.tasks.start, { containerId: 'ghost', execId: '' }, NS)).rejects.toMatchObject({ code: 5 });
  });

  it('cleans up after a shim killed with -9: task reported stopped with the reason, no process, cgroup or mount left', async () => {
    const spec = busyboxSpec(daemon.dir, ['sleep', '300']);
    const rootfs = (spec as { root: { path: string } }).root.path;
    await call(
      daemon.containers,
      daemon.containers.create,
      {
        container: containers.Container.fromPartial({
          id: 'victim',
          runtime: { name: 'io.containerd.gantry.v1' },
          spec: { typeUrl: SPEC_TYPE, value: Buffer.from(JSON.stringify(spec)) },
        }),
      },
      NS,
    );
    const sub = await subscribe(daemon, ['topic=="/tasks/exit"']);
    // the rootfs comes as a mount, so the shim mounts it: that mount must not leak either
    const created = await call(
      daemon.tasks,
      daemon.tasks.create,
      tasks.CreateTaskRequest.fromPartial({ containerId: 'victim', rootfs: [{ type: 'bind', source: rootfs, options: ['rbind', 'ro'] }] }),
      NS,
    );
    await call(daemon.tasks, daemon.tasks.start, { containerId: 'victim', execId: '' }, NS);
    const bundle = path.join(daemon.dir, 'state', 'tasks', NS, 'victim');
    const mounted = () => fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(path.join(bundle, 'rootfs'));
    expect(mounted()).toBe(true);
    const shimPid = Number(fs.readFileSync(path.join(bundle, 'shim.pid'), 'utf8'));
    process.kill(shimPid, 'SIGKILL');

    const got = await waitFor('task reported stopped', () => {
      void call(daemon.tasks, daemon.tasks.get, { containerId: 'victim', execId: '' }, NS).then(
        (r) => (last = r.process),
        () => undefined,
      );
      return last?.status === types.Status.STOPPED ? last : undefined;
    });
    expect(got).toMatchObject({ pid: created.pid, exitStatus: 255 });
    // killed; once re-parented to the host's init it may stay a zombie for a moment
    await waitFor('container process gone', () => {
      try {
        const stat = fs.readFileSync(`/proc/${created.pid}/stat`, 'utf8');
        return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
      } catch {
        return true;
      }
    });
    expect(mounted()).toBe(false);
    expect(fs.readdirSync('/sys/fs/cgroup').some((c) => fs.existsSync(path.join('/sys/fs/cgroup', c, NS, 'victim')))).toBe(false);
    await expect(call(daemon.tasks, daemon.tasks.start, { containerId: 'victim', execId: '' }, NS)).rejects.toMatchObject({
      code: 9,
      details: expect.stringMatching(/exited unexpectedly/),
    });
    expect((await call(daemon.tasks, daemon.tasks.wait, { containerId: 'victim', execId: '' }, NS)).exitStatus).toBe(255);
    await waitFor('exit event', () => sub.envelopes.length === 1);
    expect(unpackAny(sub.envelopes[0]!.event, 'containerd.events.TaskExit', events.TaskExit)).toMatchObject({ containerId: 'victim', exitStatus: 255 });
    sub.stop();
    expect(await call(daemon.tasks, daemon.tasks.delete, { containerId: 'victim' }, NS)).toMatchObject({ exitStatus: 255 });
    await expect(call(daemon.tasks, daemon.tasks.get, { containerId: 'victim', execId: '' }, NS)).rejects.toMatchObject({ code: 5 });
    await call(daemon.containers, daemon.containers.delete, { id: 'victim' }, NS);
    expect(fs.existsSync(bundle)).toBe(false);
  });

  it('answers bad input with the right gRPC codes and keeps serving', async () => {
    // invalid spec: not JSON
    await call(
      daemon.containers,
      daemon.containers.create,
      {
        container: containers.Container.fromPartial({
          id: 'badspec',
          runtime: { name: 'io.containerd.gantry.v1' },
          spec: { typeUrl: SPEC_TYPE, value: Buffer.from('{not json') },
        }),
      },
      NS,
    );
    await expect(call(daemon.tasks, daemon.tasks.create, tasks.CreateTaskRequest.fromPartial({ containerId: 'badspec' }), NS)).rejects.toMatchObject({
      code: 3,
      details: expect.stringMatching(/invalid spec/),
    });
    // a spec the runtime refuses (no process)
    await call(
      daemon.containers,
      daemon.containers.create,
      {
        container: containers.Container.fromPartial({
          id: 'noproc',
          runtime: { name: 'io.containerd.gantry.v1' },
          spec: { typeUrl: SPEC_TYPE, value: Buffer.from(JSON.stringify({ ociVersion: '1.0.2', root: { path: '/nonexistent' } })) },
        }),
      },
      NS,
    );
    await expect(call(daemon.tasks, daemon.tasks.create, tasks.CreateTaskRequest.fromPartial({ containerId: 'noproc' }), NS)).rejects.toMatchObject({
      code: 3,
      details: expect.stringMatching(/process is required/),
    });
    // duplicate container id
    await expect(
      call(
        daemon.containers,
        daemon.containers.create,
        { container: containers.Container.fromPartial({ id: 'noproc', runtime: { name: 'x' }, spec: { typeUrl: SPEC_TYPE, value: Buffer.from('{}') } }) },
        NS,
      ),
    ).rejects.toMatchObject({ code: 6 });
    // an oversized message (over grpc's default 4 MiB receive limit)
    await expect(
      call(
        daemon.containers,
        daemon.containers.create,
        {
          container: containers.Container.fromPartial({
            id: 'huge',
            runtime: { name: 'x' },
            spec: { typeUrl: SPEC_TYPE, value: Buffer.alloc(5 * 1024 * 1024) },
          }),
        },
        NS,
      ),
    ).rejects.toMatchObject({ code: 8 });
    // still serving
    expect((await call(daemon.tasks, daemon.tasks.list, { filter: '' }, NS)).tasks).toEqual([]);
    await call(daemon.containers, daemon.containers.delete, { id: 'badspec' }, NS);
    await call(daemon.containers, daemon.containers.delete, { id: 'noproc' }, NS);
  });
});
