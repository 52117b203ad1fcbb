/**
 * cgroup v1 limits on the real kernel: the memory limit OOM-kills, the pids limit stops a fork
 * loop, and the freezer pauses and resumes a container.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { CLI, describeRoot, pidAlive, readOr, sleep, useHarness, waitFor } from './helpers';

const MiB = 1024 * 1024;

describeRoot('resources (root integration)', () => {
  const H = useHarness('res');

  it('OOM-kills a process that outgrows linux.resources.memory.limit (32 MiB, no swap)', () => {
    const h = H();
    const id = h.id('oom');
    const b = h.bundleFor(['sh', '-c', 'a=xxxxxxxx; while :; do a="$a$a"; done'], (c) => {
      c.linux.resources.memory = { limit: 32 * MiB, swap: 32 * MiB };
    });
    // --keep leaves the stopped container (and its cgroup) for inspection; cleanup deletes it.
    const r = h.cli(['run', '--keep', '-b', b, id], { timeoutMs: 30_000 });
    expect(r.error).toBeUndefined();
    expect(r.status).toBe(137);

    const mem = `/sys/fs/cgroup/memory/gantry/${id}`;
    expect(readOr(`${mem}/memory.limit_in_bytes`).trim()).toBe(String(32 * MiB));
    const oom = readOr(`${mem}/memory.oom_control`);
    const kills = Number(/oom_kill (\d+)/.exec(oom)?.[1] ?? 'NaN');
    expect(kills).toBeGreaterThanOrEqual(1);
    expect(readOr(`${mem}/memory.memsw.limit_in_bytes`).trim()).toBe(String(32 * MiB));
    // It really reached the limit (the kernel does not always count failcnt on this path).
    expect(Number(readOr(`${mem}/memory.max_usage_in_bytes`).trim())).toBeGreaterThan(30 * MiB);
    expect(h.state(id).status).toBe('stopped');
    h.ok(['delete', id]);
    expect(fs.existsSync(mem)).toBe(false);
  });

  it("runs and execs in a 6 MiB container (Docker's smallest -m): Node's start-up in the stages is not the container's", async () => {
    const h = H();
    const id = h.id('tiny');
    const b = h.bundleFor(['sh', '-c', 'echo started; sleep 300'], (c) => {
      c.linux.resources.memory = { limit: 6 * MiB, swap: 6 * MiB };
    });
    const log = h.runDetached(id, b);
    // `run -d` returns once the init has been told to exec the program, not once the program has
    // run: on a loaded machine the log was still empty then (about 1 run in 50 under two loops).
    // Wait for the output, or for the init to die (killed at its start: the other way to an empty log).
    const pid: number = h.state(id).pid;
    await waitFor('the container to print "started" or die', () => readOr(log).includes('started') || !pidAlive(pid), 10_000);
    expect(readOr(log)).toContain('started');
    expect(h.ok(['exec', id, 'sh', '-c', 'echo exec-ok']).trim()).toBe('exec-ok');
    const mem = `/sys/fs/cgroup/memory/gantry/${id}`;
    // the stages (8-12 MB of Node each) were never charged: the peak is the shells' own
    expect(Number(readOr(`${mem}/memory.max_usage_in_bytes`).trim())).toBeLessThan(6 * MiB);
    expect(Number(/oom_kill (\d+)/.exec(readOr(`${mem}/memory.oom_control`))?.[1] ?? 'NaN')).toBe(0);
    expect(h.state(id).status).toBe('running');
    h.ok(['delete', '-f', id]);
  });

  it('reports the OOM kill of a running container as an "oom" event (`events`)', async () => {
    const h = H();
    const id = h.id('oomev');
    // The init survives; a child started on cue blows up and is OOM-killed.
    const script = 'while [ ! -e /tmp/go ]; do sleep 0.05; done; (a=xxxxxxxx; while :; do a="$a$a"; done); echo child-exited; sleep 300';
    const b = h.bundleFor(['sh', '-c', script], (c) => {
      c.linux.resources.memory = { limit: 32 * MiB, swap: 32 * MiB };
      c.mounts.push({ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] });
    });
    const log = h.runDetached(id, b);
    const pid: number = h.state(id).pid;
    const events = spawn(process.execPath, [CLI, '--root', h.root, 'events', '--interval', '1s', id], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    events.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await waitFor('the first stats event', () => out.includes('"stats"'), 10_000);
      fs.writeFileSync(`/proc/${pid}/root/tmp/go`, '');
      await waitFor('the OOM-killed child', () => readOr(log).includes('child-exited'), 15_000);
      await waitFor('an oom event', () => out.split('\n').some((l) => l.startsWith('{') && JSON.parse(l).type === 'oom'), 5000);
      const oomEvent = JSON.parse(out.split('\n').find((l) => l.includes('"oom"'))!);
      expect(oomEvent).toEqual({ type: 'oom', id });
      expect(h.state(id).status).toBe('running');
      const oom = readOr(`/sys/fs/cgroup/memory/gantry/${id}/memory.oom_control`);
      expect(Number(/oom_kill (\d+)/.exec(oom)?.[1])).toBeGreaterThanOrEqual(1);
      // events --stats prints one stats object and exits
      const ev = JSON.parse(h.ok(['events', '--stats', id]).trim());
      expect(ev).toMatchObject({ type: 'stats', id });
    } finally {
      events.kill('SIGKILL');
    }
  });

  it('stops a fork loop at linux.resources.pids.limit (8) while the container survives', () => {
    const h = H();
    const id = h.id('pids');
    // busybox ash gives up the subshell at the first failed fork; the init shell goes on, and
    // counts processes with builtins only (a glob), since it cannot fork either while the sleeps live.
    const script =
      '(for i in $(seq 1 20); do sleep 5 & done); echo "subshell rc=$?"; set -- /proc/[0-9]*; echo "alive $$ procs $#"; read x < /sys/fs/cgroup/pids/pids.max; echo "max $x"; exit 0';
    const b = h.bundleFor(['sh', '-c', script], (c) => {
      c.linux.resources.pids = { limit: 8 };
    });
    const r = h.cli(['run', '-b', b, id], { timeoutMs: 30_000 });
    expect(r.error).toBeUndefined();
    expect(r.stderr).toMatch(/^sh: can't fork: Resource temporarily unavailable$/m);
    expect(r.status).toBe(0);
    // 6 sleeps fitted next to the two shells; the subshell died at the 7th; init is still pid 1.
    expect(r.stdout).toBe('subshell rc=2\nalive 1 procs 7\nmax 8\n');
  });

  it('pauses (freezer FROZEN, counter stops) and resumes (counter advances)', async () => {
    const h = H();
    const id = h.id('pause');
    const b = h.bundleFor(['sh', '-c', 'i=0; while :; do i=$((i+1)); echo $i > /tmp/c; sleep 0.1; done'], (c) => {
      c.mounts.push({ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] });
    });
    h.runDetached(id, b);
    const pid: number = h.state(id).pid;
    // Read the counter through the init's root as the host sees it (works while frozen, too).
    const counter = () => Number(readOr(`/proc/${pid}/root/tmp/c`).trim() || '0');
    await waitFor('the counter to start', () => counter() >= 2, 5000);

    h.ok(['pause', id]);
    expect(h.state(id).status).toBe('paused');
    expect(readOr(`/sys/fs/cgroup/freezer/gantry/${id}/freezer.state`).trim()).toBe('FROZEN');
    const frozenAt = counter();
    await sleep(700);
    expect(counter()).toBe(frozenAt);
    // A paused container refuses exec and a second pause.
    expect(h.cli(['exec', id, 'true']).status).not.toBe(0);
    expect(h.cli(['pause', id]).status).not.toBe(0);

    h.ok(['resume', id]);
    expect(h.state(id).status).toBe('running');
    expect(readOr(`/sys/fs/cgroup/freezer/gantry/${id}/freezer.state`).trim()).toBe('THAWED');
    await waitFor('the counter to advance after resume', () => counter() >= frozenAt + 3, 5000);
    // and exec sees the same file
    expect(Number(h.ok(['exec', id, 'cat', '/tmp/c']).trim())).toBeGreaterThan(frozenAt);
    expect(h.cli(['resume', id]).status).not.toBe(0);
  });
});
