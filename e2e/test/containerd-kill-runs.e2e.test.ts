/**
 * gantry-containerd killed -9 (by the pid in its pid file, as an operator or the OOM killer would)
 * while `docker run --rm busybox true` calls are in flight: gantryd's supervisor restarts it, and
 * every run succeeds. gantryd's calls wait for the restarted daemon instead of failing with
 * `14 UNAVAILABLE`, and a create, start or removal cut by the kill is finished or done again once it
 * is back. The kill comes at three points: before the runs reach gantryd, once a container of the
 * batch exists, and once a shim of the batch has started.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { GantrydHarness, type CliResult } from '../src/gantryd';

const RUNS = 6;

/** Poll `get` until `ok` (an upper bound on the wait, never a fixed sleep). */
async function until<T>(what: string, get: () => T, ok: (v: T) => boolean, ms = 60000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = get();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('docker run across kill -9 of gantry-containerd', () => {
  let g: GantrydHarness;
  const pidFile = () => join(g.dir, 'run', 'containerd', 'gantry-containerd.pid');
  const socket = () => join(g.dir, 'run', 'containerd', 'containerd.sock');
  const containerdPid = (): number => {
    try {
      return Number(fs.readFileSync(pidFile(), 'utf8').trim()) || 0;
    } catch {
      return 0;
    }
  };
  const alive = (pid: number) => {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
    } catch {
      return false;
    }
  };
  /** Container directories gantryd holds (one per container created and not yet removed). */
  const containerDirs = (): string[] => {
    try {
      return fs.readdirSync(join(g.dir, 'data', 'containers')).filter((d) => /^[0-9a-f]{64}$/.test(d));
    } catch {
      return [];
    }
  };
  /** How many shims gantry-containerd has started (its log names each; the log outlives restarts). */
  const shimsStarted = (): number => {
    try {
      return fs
        .readFileSync(g.containerdLogPath, 'utf8')
        .split('\n')
        .filter((l) => l.includes('"shim started"')).length;
    } catch {
      return 0;
    }
  };

  /** `docker run --rm busybox true`, asynchronously (the harness' docker() blocks). */
  function run(): Promise<CliResult> {
    return new Promise((resolve) => {
      const p = spawn('docker', ['run', '--rm', 'busybox', 'true'], { env: g.env(), stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => p.kill('SIGKILL'), 120000);
      p.on('close', (status) => {
        clearTimeout(timer);
        resolve({ status, stdout, stderr });
      });
    });
  }

  beforeAll(async () => {
    g = await GantrydHarness.start('gck-');
    g.loadBusybox();
    g.ok(['run', '--rm', 'busybox', 'true']);
  }, 120000);

  afterAll(async () => {
    await g?.stop();
  }, 60000);

  const points: [string, () => () => boolean][] = [
    ['as the runs are sent', () => () => true],
    [
      'once a container of the batch exists',
      () => {
        const before = new Set(containerDirs());
        return () => containerDirs().some((d) => !before.has(d));
      },
    ],
    [
      'once a shim of the batch has started',
      () => {
        const before = shimsStarted();
        return () => shimsStarted() > before;
      },
    ],
  ];

  it.each(points)(
    `${RUNS} concurrent docker run --rm all succeed when gantry-containerd is killed %s`,
    async (_point, arm) => {
      const reached = arm();
      const old = containerdPid();
      expect(alive(old)).toBe(true);
      let finished = 0;
      const runs = Array.from({ length: RUNS }, () => run().then((r) => (finished++, r)));
      await until('the kill point', reached, (v) => v);
      process.kill(old, 'SIGKILL');
      const inFlightAtKill = RUNS - finished;
      // the supervisor's new gantry-containerd: a new pid in the pid file, alive, its socket there
      const pid = await until('a new gantry-containerd', containerdPid, (p) => p !== old && p > 0 && alive(p));
      await until(
        'its socket',
        () => fs.existsSync(socket()),
        (v) => v,
      );
      const results = await Promise.all(runs);
      expect(inFlightAtKill).toBeGreaterThan(0);
      for (const r of results) expect({ status: r.status, stderr: r.stderr.trim() }).toEqual({ status: 0, stderr: '' });
      // --rm: every container is gone, in gantryd and in gantry-containerd
      expect(g.ok(['ps', '-aq']).trim()).toBe('');
      expect(containerDirs()).toEqual([]);
      expect(containerdPid()).toBe(pid);
    },
    240000,
  );
});
