/**
 * Debian's real `ctr` (containerd 1.6) drives gantry-containerd's tasks: containers are created
 * through @gantry/api's generated Containers client (gantry-containerd has no images yet, so
 * `ctr run` cannot make them), then started, inspected, exec'd into, paused, measured, killed and
 * deleted with ctr, which only knows containerd's wire contract.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { sleep } from '../src/containerd';
import { TestGantryContainerd } from '../src/gantry-containerd';

const NS = 'test';
const OTHER_NS = 'other';

describe('ctr against gantry-containerd (tasks through gantry-shim)', () => {
  let gc: TestGantryContainerd | undefined;
  /** Background ctr processes (ctr events) this file started; killed by pid in afterAll if still there. */
  const background: ChildProcess[] = [];
  let seq = 0;
  const newId = (): string => `gce-${process.pid}-${++seq}`;

  const daemon = (): TestGantryContainerd => {
    if (!gc) throw new Error('gantry-containerd did not start');
    return gc;
  };
  const show = (what: string, r: { status: number | null; stdout: string; stderr: string }): string =>
    `${what}: exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}\ngantry-containerd log:\n${gc?.logTail(20)}`;
  /** ctr, failing the test with its output when it does not exit 0. */
  const ok = (args: string[], namespace?: string): string => {
    const r = daemon().ctr(args, { namespace });
    if (r.status !== 0) throw new Error(show(`ctr ${args.join(' ')}`, r));
    return r.stdout;
  };
  const waitForStatus = async (id: string, status: string, timeoutMs = 10000): Promise<{ pid: number; status: string }> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const t = daemon().tasks().get(id);
      if (t?.status === status) return t;
      if (Date.now() > deadline) throw new Error(`task ${id} is ${t?.status ?? 'absent'}, not ${status}, after ${timeoutMs} ms`);
      await sleep(100);
    }
  };

  beforeAll(async () => {
    gc = new TestGantryContainerd(NS);
    await gc.start();
  }, 60000);

  afterAll(async () => {
    for (const p of background) {
      if (p.pid !== undefined && p.exitCode === null && p.signalCode === null) {
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    const d = gc;
    gc = undefined;
    await d?.stop([NS, OTHER_NS]);
    if (d) expect(existsSync(d.dir)).toBe(false);
  }, 60000);

  it('starts a task detached, lists, execs, ps, pauses, resumes, measures, kills and deletes it', async () => {
    const d = daemon();
    const id = newId();
    await d.createContainer(id, ['sh', '-c', 'echo hello-from-gce; exec sleep 300']);
    expect(ok(['containers', 'ls', '-q'])).toContain(id);

    const started = d.ctr(['tasks', 'start', '-d', '--fifo-dir', d.fifoDir, id]);
    // ctr stops copying the task's output when `start -d` returns: what it printed is not asserted
    expect(started.status).toBe(0);

    const running = await waitForStatus(id, 'RUNNING');
    expect(running.pid).toBeGreaterThan(1);
    expect(alive(running.pid)).toBe(true);

    const exec = d.ctr(['tasks', 'exec', '--exec-id', 'e1', '--fifo-dir', d.fifoDir, id, 'sh', '-c', 'echo from-exec; exit 3']);
    expect(exec.stdout).toContain('from-exec');
    expect(exec.status).toBe(3);

    const ps = ok(['tasks', 'ps', id]).split('\n');
    expect(ps[0]).toMatch(/^PID\s+INFO/);
    expect(ps.slice(1).map((l) => Number(l.trim().split(/\s+/)[0]))).toContain(running.pid);

    ok(['tasks', 'pause', id]);
    expect(d.tasks().get(id)?.status).toBe('PAUSED');
    ok(['tasks', 'resume', id]);
    expect(d.tasks().get(id)?.status).toBe('RUNNING');

    // containerd's cgroup metrics (io.containerd.cgroups.v1/v2.Metrics), decoded by ctr itself
    const table = ok(['tasks', 'metrics', id]);
    expect(table).toMatch(new RegExp(`^ID\\s+TIMESTAMP\\s*\\n${id}\\s+\\S`));
    expect(table).toMatch(/METRIC\s+VALUE/);
    const usage = /^memory\.usage_in_bytes\s+(\d+)\s*$/m.exec(table);
    expect(usage).not.toBeNull();
    expect(Number(usage![1])).toBeGreaterThan(0);
    expect(table).toMatch(/^pids\.current\s+[1-9]\d*\s*$/m);

    const json = JSON.parse(ok(['tasks', 'metrics', '--format', 'json', id])) as {
      memory?: { usage?: number | { usage?: number } };
      pids?: { current?: number };
    };
    const memUsage = typeof json.memory?.usage === 'number' ? json.memory.usage : json.memory?.usage?.usage; // v2 : v1
    expect(memUsage).toBeGreaterThan(0);
    expect(json.pids?.current).toBeGreaterThanOrEqual(1);

    ok(['tasks', 'kill', '-s', 'SIGKILL', id]);
    await waitForStatus(id, 'STOPPED');
    expect(alive(running.pid)).toBe(false);

    const del = d.ctr(['tasks', 'delete', id]);
    expect(del.status).toBe(0);
    // ctr 1.6 reports a non-zero exit status of the deleted task as a warning on stderr
    expect(del.stderr).toContain(`task ${id} exit with non-zero exit code 137`);
    expect(d.tasks().has(id)).toBe(false);

    ok(['containers', 'rm', id]);
    expect(ok(['containers', 'ls', '-q']).split('\n')).not.toContain(id);
  });

  it('returns the exit code of a task started in the foreground', async () => {
    const d = daemon();
    const id = newId();
    await d.createContainer(id, ['sh', '-c', 'echo before-exit; exit 7']);
    const r = d.ctr(['tasks', 'start', '--fifo-dir', d.fifoDir, id]);
    expect(r.stdout).toContain('before-exit');
    expect(r.status).toBe(7);
    // ctr deletes the task it waited for; the container stays until containers rm
    expect(d.tasks().has(id)).toBe(false);
    ok(['containers', 'rm', id]);
  });

  it('streams /tasks/create, /tasks/start, /tasks/exit and /tasks/delete to ctr events', async () => {
    const d = daemon();
    const id = newId();
    const events = d.spawnCtr(['events']);
    background.push(events);
    let out = '';
    events.stdout?.on('data', (b: Buffer) => (out += b.toString()));
    events.stderr?.on('data', (b: Buffer) => (out += b.toString()));
    try {
      // the subscription is live once a daemon event (/containers/create) shows up on it
      await d.createContainer(id, ['sh', '-c', 'exit 0']);
      const deadline = Date.now() + 10000;
      while (!out.includes('/containers/create') && Date.now() < deadline) await sleep(50);
      expect(out).toContain('/containers/create');

      expect(d.ctr(['tasks', 'start', '--fifo-dir', d.fifoDir, id]).status).toBe(0);
      const topics = ['/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete'];
      const taskLines = (): string[] => out.split('\n').filter((l) => l.includes(id));
      const until = Date.now() + 10000;
      while (!topics.every((t) => taskLines().some((l) => l.includes(t))) && Date.now() < until) await sleep(50);
      const lines = taskLines();
      // ctr prints "<timestamp> <namespace> <topic> <event as JSON>"
      for (const t of topics) expect(lines.filter((l) => l.includes(` ${NS} ${t} {`))).not.toHaveLength(0);
      // in the order they happened
      const firstIndex = (t: string): number => lines.findIndex((l) => l.includes(t));
      expect(topics.map(firstIndex)).toEqual([...topics.map(firstIndex)].sort((a, b) => a - b));
      expect(lines.find((l) => l.includes('/tasks/exit'))).toContain(`"container_id":"${id}"`);
    } finally {
      if (events.pid !== undefined && events.exitCode === null && events.signalCode === null) process.kill(events.pid, 'SIGKILL');
    }
    ok(['containers', 'rm', id]);
  });

  it('keeps namespaces apart: ctr -n other tasks ls does not show tasks of namespace test', async () => {
    const d = daemon();
    const id = newId();
    await d.createContainer(id, ['sleep', '300']);
    ok(['tasks', 'start', '-d', '--fifo-dir', d.fifoDir, id]);
    const t = await waitForStatus(id, 'RUNNING');

    const other = ok(['tasks', 'ls'], OTHER_NS);
    expect(other.split('\n')[0]).toMatch(/^TASK\s+PID\s+STATUS/);
    expect(other).not.toContain(id);
    expect(d.tasks(OTHER_NS).size).toBe(0);
    expect(ok(['containers', 'ls', '-q'], OTHER_NS)).not.toContain(id);
    // nor can it reach the task by id
    expect(d.ctr(['tasks', 'kill', id], { namespace: OTHER_NS }).status).not.toBe(0);
    expect(alive(t.pid)).toBe(true);

    ok(['tasks', 'kill', '-s', 'SIGKILL', id]);
    await waitForStatus(id, 'STOPPED');
    ok(['tasks', 'delete', id]);
    ok(['containers', 'rm', id]);
  });
});

/** True while `pid` exists and is not a zombie. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return false;
  }
}
