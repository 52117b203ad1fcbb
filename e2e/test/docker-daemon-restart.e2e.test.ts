/**
 * gantryd restarts with live-restore, driven by the real docker CLI: a graceful stop (SIGTERM), a
 * crash (kill -9) that leaves its gantry-containerd running, and a crash of both. Running
 * containers keep running with the same pid, their logs go on, exec/stop/rm work afterwards,
 * containers that exited meanwhile report their real exit code and get their restart policy,
 * healthchecks resume, and no second gantry-containerd is left behind.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { until as waitUntil } from '@gantry/testkit';
import { GantrydHarness } from '../src/gantryd';

interface Inspected {
  RestartCount: number;
  State: { Status: string; Running: boolean; Pid: number; ExitCode: number; Health?: { Status: string; Log: { Start: string }[] } };
}

/** docker CLI calls are polled every 150 ms: each one is a process start. */
const until = <T>(what: string, get: () => T, ok: (v: T) => boolean, timeoutMs = 20000): Promise<T> => waitUntil(what, get, ok, { timeoutMs, stepMs: 150 });

/** Processes whose command line names `needle` and `dir` (ours only: every path is under the test's dir). */
function processes(dir: string, needle: string): number[] {
  return fs
    .readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        const cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8');
        return cmd.includes(dir) && cmd.includes(needle);
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe('gantryd restart with live-restore', () => {
  let g: GantrydHarness;
  const get = (name: string): Inspected => (JSON.parse(g.ok(['inspect', name])) as Inspected[])[0]!;
  const lastLine = (name: string): number => Math.max(-1, ...[...g.ok(['logs', name]).matchAll(/^line(\d+)$/gm)].map((m) => Number(m[1])));
  const containerds = () => processes(g.dir, 'containerd/dist/main.js');

  beforeAll(async () => {
    g = await GantrydHarness.start('gdr-');
    g.loadBusybox();
  }, 60000);

  afterAll(async () => {
    await g?.stop();
  }, 60000);

  // a failed scenario leaves its containers: the next one starts from none, so it fails only for its own reasons
  afterEach(() => {
    const left = g.docker(['ps', '-aq'], undefined, 20000).stdout.split('\n').filter(Boolean);
    if (left.length > 0) g.docker(['rm', '-f', ...left], undefined, 60000);
  }, 90000);

  /**
   * Containers in every state, then gantryd down by `how` for longer than `ex` lives, then up again.
   * `full` adds the restart-policy and healthcheck containers (kept out of one run to save time).
   */
  async function scenario(p: string, how: 'SIGTERM' | 'SIGKILL' | 'SIGKILL-both', full: boolean): Promise<void> {
    g.ok(['run', '-d', '--name', `${p}lg`, 'busybox', 'sh', '-c', 'i=0; while true; do echo line$i; i=$((i+1)); sleep 0.2; done']);
    // `ex` (and `of`) exit with 7 once the test creates <gate>/go, which it does while gantryd is down
    const gate = join(g.dir, `${p}-gate`);
    fs.mkdirSync(gate);
    const exitOnGate = ['-v', `${gate}:/gate:ro`, 'busybox', 'sh', '-c', 'until [ -e /gate/go ]; do sleep 0.05; done; exit 7'];
    g.ok(['run', '-d', '--name', `${p}ex`, ...exitOnGate]);
    if (full) {
      g.ok(['run', '-d', '--name', `${p}of`, '--restart', 'on-failure:1', ...exitOnGate]);
      g.ok(['run', '-d', '--name', `${p}us`, '--restart', 'unless-stopped', 'busybox', 'sleep', '300']);
      g.ok(['run', '-d', '--name', `${p}aw`, '--restart', 'always', 'busybox', 'sleep', '300']);
      g.ok(['run', '-d', '--name', `${p}hc`, '--health-cmd', 'true', '--health-interval', '300ms', 'busybox', 'sleep', '300']);
      g.ok(['stop', '-t', '1', `${p}us`, `${p}aw`]);
      await until(
        'healthy',
        () => get(`${p}hc`).State.Health?.Status,
        (s) => s === 'healthy',
      );
    }
    const pid = get(`${p}lg`).State.Pid;
    const gated = [get(`${p}ex`).State.Pid, ...(full ? [get(`${p}of`).State.Pid] : [])];
    await until(
      'some output',
      () => lastLine(`${p}lg`),
      (n) => n >= 1,
    );
    const containerdBefore = containerds();
    expect(containerdBefore).toHaveLength(1);

    await g.stopDaemon(how === 'SIGTERM' ? 'SIGTERM' : 'SIGKILL');
    if (how === 'SIGKILL-both') process.kill(Number(fs.readFileSync(join(g.dir, 'run', 'containerd', 'gantry-containerd.pid'), 'utf8')), 'SIGKILL');
    // `ex` exits while gantryd is down (its shim reaps it and keeps the status)
    fs.writeFileSync(join(gate, 'go'), '');
    await until(
      'the gated containers to exit',
      () => gated.filter((p) => fs.existsSync(`/proc/${p}`)),
      (alive) => alive.length === 0,
    );
    const down = Date.now();
    await g.startDaemon();

    // the running container was adopted: same process, listed, logging, exec-able
    const lg = get(`${p}lg`);
    expect(lg.State).toMatchObject({ Status: 'running', Running: true, Pid: pid });
    expect(fs.existsSync(`/proc/${pid}`)).toBe(true);
    expect(g.ok(['ps', '--format', '{{.Names}}']).split('\n')).toContain(`${p}lg`);
    const after = lastLine(`${p}lg`);
    await until(
      'new log lines after the restart',
      () => lastLine(`${p}lg`),
      (n) => n >= after + 3,
    );
    expect(g.ok(['exec', `${p}lg`, 'echo', 'exec-ok']).trim()).toBe('exec-ok');

    // the one that exited meanwhile: its real exit code
    expect(get(`${p}ex`).State).toMatchObject({ Status: 'exited', Running: false, ExitCode: 7 });

    // exactly one gantry-containerd (the old one adopted after a lone kill -9)
    const containerdAfter = containerds();
    expect(containerdAfter).toHaveLength(1);
    if (how === 'SIGKILL') expect(containerdAfter).toEqual(containerdBefore);
    else expect(containerdAfter).not.toEqual(containerdBefore);

    if (full) {
      // on-failure:1 applied to the exit that happened while gantryd was down
      await until(
        'on-failure restart',
        () => get(`${p}of`).RestartCount,
        (n) => n === 1,
      );
      // stopped by the user: unless-stopped stays down, always comes back (as with dockerd)
      expect(get(`${p}us`).State.Status).toBe('exited');
      await until(
        'always restarted',
        () => get(`${p}aw`).State.Status,
        (s) => s === 'running',
      );
      // probes resume
      await until(
        'probes after the restart',
        () => get(`${p}hc`).State.Health!.Log.filter((l) => Date.parse(l.Start) > down).length,
        (n) => n >= 2,
      );
      expect(get(`${p}hc`).State.Health!.Status).toBe('healthy');
      g.ok(['rm', '-f', `${p}of`, `${p}us`, `${p}aw`, `${p}hc`]);
    }

    // stop and rm work on the adopted container
    g.ok(['stop', '-t', '1', `${p}lg`]);
    expect(get(`${p}lg`).State.Status).toBe('exited');
    expect(fs.existsSync(`/proc/${pid}`)).toBe(false);
    g.ok(['rm', `${p}lg`, `${p}ex`]);
    expect(g.ok(['ps', '-aq']).trim()).toBe('');
  }

  it('graceful restart (SIGTERM)', () => scenario('t', 'SIGTERM', true), 60000);
  it('kill -9 of gantryd: its gantry-containerd is used again', () => scenario('k', 'SIGKILL', true), 60000);
  it('kill -9 of gantryd and its gantry-containerd: a new one finds the shims', () => scenario('b', 'SIGKILL-both', false), 60000);
});
