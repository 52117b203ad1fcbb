import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { credentials, Metadata } from '@grpc/grpc-js';
import { cgroups, shim, unaryCall, unpackAny, type UnaryMethod } from '@gantry/api';
import { PROCESS_TYPE } from '../src/grpc-service';
import { TaskStatus } from '../src/task-service';
import { fifoReader, makeBundle, waitFor } from './helpers';
import { describeIf, needRoot } from '@gantry/testkit';

const d = describeIf(needRoot());
// the bundle gantry-containerd spawns (tools/bundle-shim.mjs), with the runtime's stage beside it
const MAIN = path.resolve(__dirname, '../dist/bundle/main.js');

function call<Req, Res>(fn: UnaryMethod<Req, Res>, client: shim.TaskClient, req: Req): Promise<Res> {
  return unaryCall(client, fn, req, new Metadata());
}

d('gantry-shim as a process, over gRPC (root)', () => {
  let dir: string;
  let proc: ChildProcess;
  let client: shim.TaskClient;
  const id = `shimproc-${process.pid}`;

  beforeAll(async () => {
    const bundle = makeBundle(['sh', '-c', 'echo started; sleep 300']);
    dir = path.dirname(bundle);
    const socket = path.join(dir, 's.sock');
    proc = spawn(
      process.execPath,
      [MAIN, 'serve', '--socket', socket, '--namespace', 'test', '--id', id, '--state-dir', path.join(dir, 'state'), '--runtime-root', path.join(dir, 'rt')],
      {
        stdio: ['ignore', 'ignore', fs.openSync(path.join(dir, 'shim.log'), 'w')],
        detached: true,
      },
    );
    await waitFor('shim socket', () => fs.existsSync(socket), 10000);
    client = new shim.TaskClient(`unix://${socket}`, credentials.createInsecure());
  });

  afterAll(async () => {
    client?.close();
    if (proc.exitCode === null && proc.signalCode === null) {
      process.kill(proc.pid!, 'SIGKILL');
      await new Promise((r) => proc.once('exit', r));
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('runs the task lifecycle through the Task API and exits on Shutdown', async () => {
    const out = fifoReader(path.join(dir, 'out'));
    const { pid } = await call(
      client.create,
      client,
      shim.CreateTaskRequest.fromPartial({ id, bundle: path.join(dir, 'bundle'), stdout: path.join(dir, 'out') }),
    );
    expect(pid).toBeGreaterThan(1);
    const connected = await call(client.connect, client, { id });
    expect(connected).toMatchObject({ shimPid: proc.pid, taskPid: pid });
    await call(client.start, client, { id, execId: '' });
    await waitFor('init output', () => out.text() === 'started\n');
    expect((await call(client.state, client, { id, execId: '' })).status).toBe(TaskStatus.RUNNING);

    const spec = { args: ['sh', '-c', 'exit 4'], cwd: '/', user: { uid: 0, gid: 0 }, env: ['PATH=/bin'] };
    await call(
      client.exec,
      client,
      shim.ExecProcessRequest.fromPartial({ id, execId: 'x', spec: { typeUrl: PROCESS_TYPE, value: Buffer.from(JSON.stringify(spec)) } }),
    );
    await call(client.start, client, { id, execId: 'x' });
    expect((await call(client.wait, client, { id, execId: 'x' })).exitStatus).toBe(4);
    await call(client.delete, client, { id, execId: 'x' });

    const stats = await call(client.stats, client, { id });
    // containerd's cgroup metrics for this host's layout, as `ctr tasks metrics` decodes them
    if (fs.existsSync('/sys/fs/cgroup/cgroup.controllers')) {
      expect(stats.stats?.typeUrl).toBe('io.containerd.cgroups.v2.Metrics');
      const m = unpackAny(stats.stats, cgroups.V2_METRICS_TYPE, cgroups.v2.Metrics)!;
      expect(m.pids?.current).toBeGreaterThanOrEqual(1n);
      expect(m.memory?.usage).toBeGreaterThan(0n);
    } else {
      expect(stats.stats?.typeUrl).toBe('io.containerd.cgroups.v1.Metrics');
      const m = unpackAny(stats.stats, cgroups.V1_METRICS_TYPE, cgroups.v1.Metrics)!;
      expect(m.pids?.current).toBeGreaterThanOrEqual(1n);
      expect(m.memory?.usage?.usage).toBeGreaterThan(0n);
      expect(m.cpu?.usage?.total).toBeGreaterThan(0n);
    }
    const pids = await call(client.pids, client, { id });
    expect(pids.processes.map((p) => p.pid)).toContain(pid);

    // Shutdown is refused while the task exists
    await expect(call(client.shutdown, client, { id, now: false })).rejects.toThrow(/still has tasks/);
    await call(client.kill, client, shim.KillRequest.fromPartial({ id, signal: 9 }));
    expect((await call(client.wait, client, { id, execId: '' })).exitStatus).toBe(137);
    const del = await call(client.delete, client, { id, execId: '' });
    expect(del).toMatchObject({ pid, exitStatus: 137 });
    // unknown exec → NOT_FOUND
    await expect(call(client.state, client, { id, execId: 'nope' })).rejects.toMatchObject({ code: 5 });
    const rss = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${proc.pid}/status`, 'utf8'))![1]);
    process.stdout.write(`gantry-shim RSS after one task: ${rss} kB\n`);
    await call(client.shutdown, client, { id, now: false });
    await new Promise((r) => proc.once('exit', r));
    expect(proc.exitCode).toBe(0);
    out.close();
  });
});
