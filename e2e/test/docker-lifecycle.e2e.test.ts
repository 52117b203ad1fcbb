/**
 * Container lifecycle through the real docker CLI against gantryd: healthchecks (flags and image
 * HEALTHCHECK, healthy/unhealthy/timeout, events, ps status and filter), restart policies with
 * their back-off, wait conditions, kill -s, restart, rm -f and update of a running container.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { until as waitUntil } from '@gantry/testkit';
import { type GantrydHarness, sharedGantryd } from '../src/gantryd';
import { unixRequest } from '../src/http';
import { bundleTool } from '../src/paths';
import { cgroupFile } from '../src/cgroups';

interface Health {
  Status: string;
  FailingStreak: number;
  Log: { Start: string; End: string; ExitCode: number; Output: string }[];
}

/** docker CLI calls are polled every 150 ms: each one is a process start. */
const until = <T>(what: string, get: () => T, ok: (v: T) => boolean, timeoutMs = 20000): Promise<T> => waitUntil(what, get, ok, { timeoutMs, stepMs: 150 });

describe('container lifecycle with the docker CLI', () => {
  let g: GantrydHarness;
  const inspect = <T>(name: string, fmt: string): T => JSON.parse(g.ok(['inspect', '-f', `{{json ${fmt}}}`, name])) as T;
  const restarts = (name: string) => {
    const c = (JSON.parse(g.ok(['inspect', name])) as { RestartCount: number; State: { Status: string } }[])[0]!;
    return { RestartCount: c.RestartCount, Status: c.State.Status };
  };
  const health = (name: string) => inspect<Health | null>(name, '.State.Health');
  const status = (name: string) => g.ok(['ps', '-a', '--filter', `name=^${name}$`, '--format', '{{.Status}}']).trim();
  const events = (since: number, filters: string[]) =>
    g
      .ok(['events', '--since', String(since), '--until', String(Date.now() / 1000), ...filters.flatMap((f) => ['--filter', f]), '--format', '{{.Action}}'])
      .trim()
      .split('\n')
      .filter(Boolean);

  beforeAll(async () => {
    g = await sharedGantryd();
  }, 60000);

  afterAll(async () => {
    await g?.stop();
  }, 60000);

  it('reports healthy and unhealthy from --health-cmd, with events, ps status and the health filter', async () => {
    const t0 = Math.floor(Date.now() / 1000);
    g.ok([
      'run',
      '-d',
      '--name',
      'hc1',
      '--health-cmd',
      'test -f /tmp/ok || { echo not ready; exit 1; }',
      '--health-interval',
      '300ms',
      '--health-retries',
      '2',
      '--health-timeout',
      '5s',
      'busybox',
      'sleep',
      '300',
    ]);
    expect(inspect<{ Test: string[]; Interval: number; Retries: number }>('hc1', '.Config.Healthcheck')).toMatchObject({
      Test: ['CMD-SHELL', 'test -f /tmp/ok || { echo not ready; exit 1; }'],
      Interval: 300e6,
      Retries: 2,
    });
    const bad = await until(
      'unhealthy',
      () => health('hc1'),
      (h) => h?.Status === 'unhealthy',
    );
    expect(bad!.FailingStreak).toBeGreaterThanOrEqual(2);
    expect(bad!.Log[bad!.Log.length - 1]).toMatchObject({ ExitCode: 1, Output: 'not ready\n' });
    expect(status('hc1')).toMatch(/^Up .* \(unhealthy\)$/);
    expect(g.ok(['ps', '--filter', 'health=unhealthy', '--format', '{{.Names}}']).trim().split('\n')).toContain('hc1');
    expect(g.ok(['ps', '--filter', 'health=healthy', '--format', '{{.Names}}'])).not.toContain('hc1');

    g.ok(['exec', 'hc1', 'touch', '/tmp/ok']);
    const good = await until(
      'healthy',
      () => health('hc1'),
      (h) => h?.Status === 'healthy',
    );
    expect(good!.FailingStreak).toBe(0);
    expect(good!.Log.length).toBeLessThanOrEqual(5);
    expect(good!.Log[good!.Log.length - 1]).toMatchObject({ ExitCode: 0, Output: '' });
    expect(status('hc1')).toMatch(/^Up .* \(healthy\)$/);
    expect(g.ok(['ps', '--filter', 'health=healthy', '--format', '{{.Names}}']).trim().split('\n')).toContain('hc1');
    expect(events(t0, ['container=hc1', 'event=health_status'])).toEqual(['health_status: unhealthy', 'health_status: healthy']);
    // probes are execs, reported as dockerd does
    expect(events(t0, ['container=hc1', 'event=exec_start'])).toContain('exec_start: /bin/sh -c test -f /tmp/ok || { echo not ready; exit 1; }');

    // probes stop with the container
    g.ok(['stop', '-t', '1', 'hc1']);
    const n = health('hc1')!
      .Log.map((l) => l.Start)
      .join();
    await new Promise((r) => setTimeout(r, 1200));
    expect(
      health('hc1')!
        .Log.map((l) => l.Start)
        .join(),
    ).toBe(n);
    g.ok(['rm', 'hc1']);
  });

  it('kills a probe at its timeout and runs CMD probes without a shell', async () => {
    g.ok([
      'run',
      '-d',
      '--name',
      'hc2',
      '--health-cmd',
      'sleep 30',
      '--health-interval',
      '200ms',
      '--health-timeout',
      '400ms',
      '--health-retries',
      '1',
      'busybox',
      'sleep',
      '300',
    ]);
    const h = await until(
      'timed-out probe',
      () => health('hc2'),
      (x) => x?.Status === 'unhealthy',
    );
    expect(h!.Log[0]).toMatchObject({ ExitCode: -1, Output: 'Health check exceeded timeout (400ms)' });
    expect(Date.parse(h!.Log[0]!.End) - Date.parse(h!.Log[0]!.Start)).toBeLessThan(5000);
    // each timed-out probe is killed: the probes seen now are gone a timeout later, never piling up
    const probes = () =>
      g
        .ok(['top', 'hc2'])
        .split('\n')
        .filter((l) => /sleep 30$/.test(l))
        .map((l) => Number(l.trim().split(/\s+/)[1]));
    const seen = await until('a probe running', probes, (p) => p.length > 0);
    expect(seen.length).toBeLessThanOrEqual(1);
    await until(
      'probe killed',
      () => seen.filter((pid) => fs.existsSync(`/proc/${pid}`)),
      (alive) => alive.length === 0,
      5000,
    );
    expect(probes().length).toBeLessThanOrEqual(1);

    const body = { Image: 'busybox', Cmd: ['sleep', '300'], Healthcheck: { Test: ['CMD', 'echo', 'a;b'], Interval: 200e6, Retries: 1 } };
    const created = await g.request('POST', '/containers/create?name=hc3', JSON.stringify(body));
    expect(created.status).toBe(201);
    g.ok(['start', 'hc3']);
    const ok = await until(
      'CMD probe',
      () => health('hc3'),
      (x) => x?.Status === 'healthy',
    );
    expect(ok!.Log[0]!.Output).toBe('a;b\n');
    // failures inside --health-start-period do not count while starting
    g.ok([
      'run',
      '-d',
      '--name',
      'hc6',
      '--health-cmd',
      'false',
      '--health-interval',
      '200ms',
      '--health-retries',
      '1',
      '--health-start-period',
      '60s',
      '--health-start-interval',
      '200ms',
      'busybox',
      'sleep',
      '300',
    ]);
    const sp = await until(
      'probes in the start period',
      () => health('hc6'),
      (x) => (x?.Log.length ?? 0) >= 2,
    );
    expect(sp).toMatchObject({ Status: 'starting', FailingStreak: 0 });
    expect(status('hc6')).toMatch(/^Up .* \(health: starting\)$/);
    g.ok(['rm', '-f', 'hc2', 'hc3', 'hc6']);
  });

  it("takes the image's HEALTHCHECK, overridable by flags, and --no-healthcheck turns it off", async () => {
    const rootfs = join(g.dir, 'hcimg-rootfs');
    const made = spawnSync(
      'bash',
      [
        '-c',
        `bash "$0" "$1" >/dev/null && tar -C "$1/rootfs" -c . | docker import -c 'HEALTHCHECK CMD ["cat","/tmp/ok"]' -c 'CMD ["sleep","300"]' - hcimg:latest`,
        bundleTool,
        rootfs,
      ],
      { encoding: 'utf8', env: g.env() },
    );
    expect(made.status).toBe(0);
    g.ok(['run', '-d', '--name', 'hc4', '--health-interval', '200ms', '--health-retries', '1', 'hcimg']);
    expect(inspect<{ Test: string[] }>('hc4', '.Config.Healthcheck').Test).toEqual(['CMD', 'cat', '/tmp/ok']);
    const bad = await until(
      'image probe fails',
      () => health('hc4'),
      (x) => x?.Status === 'unhealthy',
    );
    expect(bad!.Log[0]!.Output).toMatch(/can't open '\/tmp\/ok'/);
    g.ok(['run', '-d', '--name', 'hc5', '--no-healthcheck', 'hcimg']);
    await new Promise((r) => setTimeout(r, 800));
    expect(health('hc5')).toBeNull();
    expect(status('hc5')).toMatch(/^Up [^(]*$/);
    expect(g.ok(['ps', '--filter', 'health=none', '--format', '{{.Names}}']).trim().split('\n')).toContain('hc5');
    g.ok(['rm', '-f', 'hc4', 'hc5']);
  });

  it('restarts on-failure:2 exactly twice, and counts again after a user start', async () => {
    const t0 = Date.now() / 1000;
    g.ok(['run', '-d', '--name', 'of2', '--restart', 'on-failure:2', 'busybox', 'sh', '-c', 'exit 3']);
    await until(
      'two restarts',
      () => restarts('of2'),
      (s) => s.RestartCount === 2 && s.Status === 'exited',
    );
    await new Promise((r) => setTimeout(r, 1500));
    expect(inspect<number>('of2', '.RestartCount')).toBe(2);
    expect(inspect<{ Status: string; ExitCode: number }>('of2', '.State')).toMatchObject({ Status: 'exited', ExitCode: 3 });
    expect(events(t0, ['container=of2', 'event=start'])).toHaveLength(3);
    expect(events(t0, ['container=of2', 'event=die'])).toHaveLength(3);
    // a user's start begins the count again
    g.ok(['start', 'of2']);
    await until(
      'restarts after start',
      () => restarts('of2'),
      (s) => s.RestartCount === 2 && s.Status === 'exited',
    );
    g.ok(['rm', 'of2']);
  });

  it('restarts always after every exit until docker stop, which does not restart it', async () => {
    const t0 = Date.now() / 1000;
    g.ok(['run', '-d', '--name', 'alw', '--restart', 'always', 'busybox', 'sh', '-c', 'exit 0']);
    await until(
      'four restarts',
      () => inspect<number>('alw', '.RestartCount'),
      (n) => n >= 4,
    );
    // back-off: 100, 200, 400 ms at least between the four starts
    const starts = JSON.parse(
      `[${g
        .ok([
          'events',
          '--since',
          String(t0),
          '--until',
          String(Date.now() / 1000),
          '--filter',
          'container=alw',
          '--filter',
          'event=start',
          '--format',
          '{{.TimeNano}}',
        ])
        .trim()
        .split('\n')
        .join(',')}]`,
    ) as number[];
    expect(starts.length).toBeGreaterThanOrEqual(4);
    const gaps = starts.slice(1, 4).map((t, i) => (t - starts[i]!) / 1e6);
    expect(gaps[0]).toBeGreaterThanOrEqual(100);
    expect(gaps[1]).toBeGreaterThanOrEqual(200);
    expect(gaps[2]).toBeGreaterThanOrEqual(400);

    g.ok(['run', '-d', '--name', 'alw2', '--restart', 'always', 'busybox', 'sleep', '300']);
    g.ok(['stop', '-t', '1', 'alw2', 'alw']);
    await new Promise((r) => setTimeout(r, 1500));
    expect(inspect<{ Status: string; Running: boolean; Restarting: boolean }>('alw2', '.State')).toMatchObject({
      Status: 'exited',
      Running: false,
      Restarting: false,
    });
    expect(inspect<number>('alw2', '.RestartCount')).toBe(0);
    expect(inspect<string>('alw', '.State.Status')).toBe('exited');
    g.ok(['rm', 'alw', 'alw2']);
  });

  it('waits for next-exit and removed, and refuses an unknown condition', async () => {
    /** POST /wait; `registered` once gantryd sent the headers, which it does after registering the wait. */
    const waitRequest = (name: string, condition: string) => {
      let registered!: () => void;
      const headers = new Promise<void>((resolve) => (registered = resolve));
      const done = unixRequest(g.sock, 'POST', `/containers/${name}/wait?condition=${condition}`, undefined, {}, () => registered()).then((r) => ({
        status: r.status,
        body: r.body.toString(),
      }));
      // an answer without a wait (an error) settles it too
      return { registered: Promise.race([headers, done.then(() => undefined)]), done };
    };
    g.ok(['create', '--name', 'wt1', 'busybox', 'sh', '-c', 'exit 5']);
    const nextExit = waitRequest('wt1', 'next-exit');
    await nextExit.registered;
    g.ok(['start', 'wt1']);
    const r1 = await nextExit.done;
    expect(r1.status).toBe(200);
    expect(JSON.parse(r1.body)).toEqual({ StatusCode: 5, Error: null });
    expect(g.ok(['wait', 'wt1']).trim()).toBe('5');
    const removed = waitRequest('wt1', 'removed');
    let settled = false;
    void removed.done.then(() => (settled = true));
    await removed.registered;
    expect(settled).toBe(false);
    g.ok(['rm', 'wt1']);
    expect(JSON.parse((await removed.done).body)).toMatchObject({ StatusCode: 5 });
    expect((await g.request('POST', '/containers/nope/wait')).status).toBe(404);
    g.ok(['create', '--name', 'wt2', 'busybox', 'true']);
    const bad = await g.request('POST', '/containers/wt2/wait?condition=sometime');
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body).message).toMatch(/condition/);
    g.ok(['rm', 'wt2']);
  });

  it('kill -s delivers the signal, restart gives a new process, rm -f ends a running one', async () => {
    g.ok(['run', '-d', '--name', 'ks', 'busybox', 'sh', '-c', 'trap "echo got-usr1; exit 42" USR1; echo ready; while true; do sleep 0.1; done']);
    await until(
      'trap set',
      () => g.ok(['logs', 'ks']),
      (l) => l.includes('ready'),
    );
    g.ok(['kill', '-s', 'USR1', 'ks']);
    expect(g.ok(['wait', 'ks']).trim()).toBe('42');
    expect(g.ok(['logs', 'ks'])).toContain('got-usr1');
    const notRunning = g.docker(['kill', 'ks']);
    expect(notRunning.status).not.toBe(0);
    expect(notRunning.stderr).toMatch(/is not running/);
    expect(g.docker(['kill', '-s', 'NOSUCHSIG', 'ks']).status).not.toBe(0);

    g.ok(['run', '-d', '--name', 'rs', 'busybox', 'sleep', '300']);
    const pid1 = inspect<number>('rs', '.State.Pid');
    const t0 = Date.now() / 1000;
    g.ok(['restart', '-t', '1', 'rs']);
    const st = inspect<{ Running: boolean; Pid: number }>('rs', '.State');
    expect(st.Running).toBe(true);
    expect(st.Pid).not.toBe(pid1);
    expect(fs.existsSync(`/proc/${pid1}`)).toBe(false);
    expect(events(t0, ['container=rs'])).toEqual(expect.arrayContaining(['kill', 'die', 'stop', 'start', 'restart']));

    const pid2 = st.Pid;
    g.ok(['rm', '-f', 'rs']);
    expect(g.ok(['ps', '-a', '--format', '{{.Names}}'])).not.toMatch(/^rs$/m);
    await until(
      'process gone',
      () => fs.existsSync(`/proc/${pid2}`),
      (e) => !e,
      5000,
    );
    g.ok(['rm', 'ks']);
  });

  it("--init: docker-init is pid 1 with the command under it, and passes docker stop's SIGTERM on", () => {
    expect(g.ok(['info', '--format', '{{.InitBinary}}']).trim()).toBe('docker-init');
    const ps = g.ok(['run', '--rm', '--init', 'busybox', 'ps', '-o', 'pid,comm']);
    expect(ps).toMatch(/^\s*1 docker-init$/m);
    expect(ps).toMatch(/^\s*([2-9]|\d\d+) ps$/m);
    // sleep as pid 1 ignores SIGTERM (pid 1 has no default actions), so stop kills it after -t;
    // under the init it is an ordinary process that SIGTERM ends: the init exits 128+15
    g.ok(['run', '-d', '--name', 'init-stop', '--init', 'busybox', 'sleep', '300']);
    g.ok(['stop', '-t', '120', 'init-stop']);
    expect(inspect<number>('init-stop', '.State.ExitCode')).toBe(143);
    expect(inspect<boolean | null>('init-stop', '.HostConfig.Init')).toBe(true);
    g.ok(['run', '-d', '--name', 'noinit-stop', 'busybox', 'sleep', '300']);
    g.ok(['stop', '-t', '1', 'noinit-stop']);
    expect(inspect<number>('noinit-stop', '.State.ExitCode')).toBe(137);
    expect(inspect<boolean | null>('noinit-stop', '.HostConfig.Init')).toBeNull();
    g.ok(['rm', 'init-stop', 'noinit-stop']);
  });

  it('update changes the memory and cpu-shares of a running container in its cgroup', () => {
    g.ok(['run', '-d', '--name', 'upd', 'busybox', 'sleep', '300']);
    const pid = inspect<number>('upd', '.State.Pid');
    g.ok(['update', '--memory', '128m', '--cpu-shares', '512', 'upd']);
    expect(inspect<{ Memory: number; CpuShares: number }>('upd', '.HostConfig')).toMatchObject({ Memory: 128 * 1024 * 1024, CpuShares: 512 });
    const mem = fs.readFileSync(cgroupFile(pid, 'memory', 'memory.limit_in_bytes', 'memory.max'), 'utf8').trim();
    expect(mem).toBe(String(128 * 1024 * 1024));
    const cpu = fs.readFileSync(cgroupFile(pid, 'cpu', 'cpu.shares', 'cpu.weight'), 'utf8').trim();
    // v2 maps shares to a weight: 1 + ((512 - 2) * 9999) / 262142 = 20
    expect(['512', '20']).toContain(cpu);
    g.ok(['rm', '-f', 'upd']);
  });
});
