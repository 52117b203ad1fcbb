/**
 * gantryd's event-driven monitor through the real docker CLI: an OOM-killed container reports
 * State.OOMKilled and exit 137 and the `oom` event (from gantry-containerd's /tasks/oom), and an
 * exit that happens while gantry-containerd is down (event stream broken) is found by the
 * reconcile after gantryd re-subscribes.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { GantrydHarness } from '../src/gantryd';
import { waitFor } from '@gantry/testkit';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('event-driven monitor with the docker CLI', () => {
  let g: GantrydHarness;
  const inspect = <T>(name: string, fmt: string): T => JSON.parse(g.ok(['inspect', '-f', `{{json ${fmt}}}`, name])) as T;

  beforeAll(async () => {
    g = await GantrydHarness.start('gmon-');
    g.loadBusybox();
  }, 60000);

  afterAll(async () => {
    await g?.stop();
  }, 60000);

  it("docker run -m 6m (docker's smallest limit) and docker exec in it: the runtime's Node stages are not charged to it", () => {
    const run = g.docker(['run', '-d', '--name', 'tiny', '-m', '6m', 'busybox', 'sh', '-c', 'echo started; sleep 600']);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(g.ok(['exec', 'tiny', 'echo', 'exec-ok']).trim()).toBe('exec-ok');
    expect(inspect<boolean>('tiny', '.State.Running')).toBe(true);
    expect(inspect<boolean>('tiny', '.State.OOMKilled')).toBe(false);
    expect(g.ok(['logs', 'tiny']).trim()).toBe('started');
    g.ok(['rm', '-f', 'tiny']);
  });

  it('docker run -m 6m of a memory hog: OOMKilled true, exit 137, oom event before die', async () => {
    const t0 = Math.floor(Date.now() / 1000);
    // a live `docker events` sees the oom as it happens
    const live = spawn('docker', ['events', '--filter', 'event=oom', '--filter', 'container=oom1', '--format', '{{.Action}} {{.Actor.Attributes.name}}'], {
      env: g.env(),
    });
    let liveOut = '';
    live.stdout.on('data', (d: Buffer) => (liveOut += d.toString()));
    try {
      // an endless line read by tail grows without bound; docker's smallest limit, 6m
      const run = g.docker(['run', '--name', 'oom1', '-m', '6m', 'busybox', 'sh', '-c', 'tail /dev/zero'], undefined, 120000);
      expect(run.stderr).toBe('');
      expect(run.status).toBe(137);
      expect(inspect<boolean>('oom1', '.State.OOMKilled')).toBe(true);
      expect(inspect<number>('oom1', '.State.ExitCode')).toBe(137);
      expect(inspect<string>('oom1', '.State.Status')).toBe('exited');
      await waitFor('live oom event', () => liveOut.includes('oom oom1'));
    } finally {
      live.kill();
    }
    const actions = g
      .ok(['events', '--since', String(t0), '--until', String(Math.ceil(Date.now() / 1000) + 1), '--filter', 'container=oom1', '--format', '{{.Action}}'])
      .trim()
      .split('\n');
    expect(actions).toContain('oom');
    expect(actions.indexOf('oom')).toBeLessThan(actions.indexOf('die'));
    expect(
      g
        .ok([
          'events',
          '--since',
          String(t0),
          '--until',
          String(Math.ceil(Date.now() / 1000) + 1),
          '--filter',
          'event=oom',
          '--format',
          '{{.Actor.Attributes.name}}',
        ])
        .trim(),
    ).toBe('oom1');

    g.ok(['rm', 'oom1']);
    // a normal exit under the same limit is no OOM
    expect(g.docker(['run', '--name', 'ok1', '-m', '32m', 'busybox', 'sh', '-c', 'exit 7']).status).toBe(7);
    expect(inspect<boolean>('ok1', '.State.OOMKilled')).toBe(false);
    g.ok(['rm', 'ok1']);
  }, 180000);

  it('an exit while gantry-containerd is down is settled by the reconcile after re-subscribing', async () => {
    g.ok(['run', '-d', '--name', 'rc1', 'busybox', 'sh', '-c', 'while [ ! -f /tmp/go ]; do sleep 0.1; done; exit 3']);
    const pid = inspect<number>('rc1', '.State.Pid');
    expect(pid).toBeGreaterThan(0);
    const pidFile = join(g.dir, 'run', 'containerd', 'gantry-containerd.pid');
    const cdPid = Number(fs.readFileSync(pidFile, 'utf8'));
    process.kill(cdPid, 'SIGKILL');
    await waitFor('gantry-containerd gone', () => !alive(cdPid));
    // the container exits while nobody listens to its shim's /tasks/exit
    fs.writeFileSync(`/proc/${pid}/root/tmp/go`, '');
    await waitFor('container process gone', () => !alive(pid));
    // gantryd's supervisor starts a new gantry-containerd; the monitor re-subscribes and reconciles
    const waited = g.docker(['wait', 'rc1'], undefined, 60000);
    expect(waited.stdout.trim()).toBe('3');
    expect(inspect<string>('rc1', '.State.Status')).toBe('exited');
    expect(Number(fs.readFileSync(pidFile, 'utf8'))).not.toBe(cdPid);
    // the new stream delivers exits again
    expect(g.docker(['run', '--name', 'rc2', 'busybox', 'sh', '-c', 'exit 5']).status).toBe(5);
    g.ok(['rm', 'rc1', 'rc2']);
  }, 120000);

  it('exec exit codes come from the event stream, also for an exec that exits at once', () => {
    g.ok(['run', '-d', '--name', 'ex1', 'busybox', 'sleep', '300']);
    for (const code of [0, 1, 42]) expect(g.docker(['exec', 'ex1', 'sh', '-c', `exit ${code}`]).status).toBe(code);
    g.ok(['rm', '-f', 'ex1']);
  }, 60000);
});
