/**
 * A runtime failure reaches the docker CLI with the runtime's own message and docker's exit code,
 * as it does through dockerd + containerd + runc: never a later state error ("task ... is not in
 * created state") that hides it. The engines run under `setpriv --bounding-set -sys_time`, a host
 * whose capability bounding set lacks a capability, where `docker run --privileged` cannot apply
 * its capabilities ("unable to apply caps: operation not permitted", as runc says).
 *
 * The same cases run against a private dockerd with runc under the same bounding set (when
 * docker.io is installed; under CI=true it must be): exit codes and the runtime's words match.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { TestDockerd } from '../src/dockerd';
import { GantrydHarness, type CliResult } from '../src/gantryd';
import { bundleTool, which } from '../src/paths';

const BOUNDED = ['setpriv', '--bounding-set', '-sys_time', '--'];

/**
 * What the CLI shows for each case, on both engines: its exit code and the runtime's words.
 * `referenceStatus`: Debian's dockerd 20.10 records 126 for any exec that fails to start; moby
 * since 2024 ("daemon/exec: don't overwrite exit code if set", in docker 28) keeps the 127 of a
 * missing program, as gantryd does.
 */
const CASES: { name: string; args: string[]; status: number; referenceStatus?: number; says: string }[] = [
  {
    name: 'run --privileged, a capability outside the bounding set',
    args: ['run', '--privileged', 'busybox', 'true'],
    status: 125,
    says: 'unable to apply caps: operation not permitted',
  },
  { name: 'run of a program that is not there', args: ['run', 'busybox', 'nope'], status: 127, says: 'exec: "nope": executable file not found in $PATH' },
  { name: 'run of a program that cannot run', args: ['run', 'busybox', '/etc/passwd'], status: 126, says: 'exec: "/etc/passwd": permission denied' },
  {
    name: 'exec of a program that is not there',
    args: ['exec', 'box', 'nope'],
    status: 127,
    referenceStatus: 126,
    says: 'exec: "nope": executable file not found in $PATH',
  },
  { name: 'exec of a program that cannot run', args: ['exec', 'box', '/etc/passwd'], status: 126, says: 'exec: "/etc/passwd": permission denied' },
  {
    name: 'exec --privileged, a capability outside the bounding set',
    args: ['exec', '--privileged', 'box', 'true'],
    status: 128,
    referenceStatus: 126,
    says: 'unable to apply caps: operation not permitted',
  },
];

function missingTools(): string[] {
  const need = [
    ['setpriv', 'util-linux'],
    ['docker', 'docker.io'],
  ];
  const missing = need.filter(([t]) => !which(t!)).map(([t, pkg]) => `${t} (${pkg})`);
  if (process.getuid?.() !== 0) missing.push('root');
  return missing;
}

describe('runtime failures through gantryd reach the docker CLI (root, setpriv)', () => {
  const missing = missingTools();
  if (missing.length > 0 && process.env.CI !== 'true') {
    console.warn(`SKIPPING runtime error suite: missing ${missing.join(', ')} (under CI=true this fails)`);
    it.skip(`needs ${missing.join(', ')}`, () => undefined);
    return;
  }
  let g: GantrydHarness;

  beforeAll(async () => {
    if (missing.length > 0) throw new Error(`runtime error suite needs ${missing.join(', ')}`);
    g = await GantrydHarness.start('gre-', [], BOUNDED);
    g.loadBusybox();
    g.ok(['run', '-d', '--name', 'box', 'busybox', 'sleep', '300']);
  }, 120000);

  afterAll(async () => {
    await g?.stop();
  }, 60000);

  const idOf = (name: string) => g.ok(['inspect', '-f', '{{.Id}}', name]).trim();
  const state = (name: string) =>
    JSON.parse(g.ok(['inspect', '-f', '{{json .State}}', name])) as { Status: string; ExitCode: number; Error: string; Running: boolean };

  /** What is left on the host of a container whose task could not be created: shim, mount, cgroup, bundle. */
  function leftovers(id: string): string[] {
    const out: string[] = [];
    const shimPids = fs
      .readFileSync(g.containerdLogPath, 'utf8')
      .split('\n')
      .filter((l) => l.includes('"shim started"') && l.includes(id))
      .map((l) => (JSON.parse(l) as { shim_pid: number }).shim_pid);
    if (shimPids.length === 0) out.push('no shim was ever started (the failure came from elsewhere)');
    for (const pid of shimPids) {
      try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
        if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z') out.push(`shim ${pid}`);
      } catch {
        // gone
      }
    }
    for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n'))
      if (line.includes(id) && line.includes(g.dir)) out.push(`mount ${line.split(' ')[4]}`);
    for (const c of fs.readdirSync('/sys/fs/cgroup')) if (fs.existsSync(join('/sys/fs/cgroup', c, 'gantry', id))) out.push(`cgroup ${c}/gantry/${id}`);
    if (fs.existsSync(join(g.dir, 'run', 'containerd', 'tasks', 'gantry', id))) out.push('task bundle');
    return out;
  }

  it.each(CASES)("$name: exit $status and the runtime's words", ({ args, status, says }) => {
    const r = g.docker(args);
    expect({ status: r.status, out: r.stdout + r.stderr }).toEqual({ status, out: expect.stringContaining(says) });
  });

  it("docker run --privileged: dockerd's wording with the runtime's message whole at the end; the container stays created (128), nothing left", () => {
    const r = g.docker(['run', '--name', 'priv', '--privileged', 'busybox', 'true']);
    expect(r.status).toBe(125);
    const message = 'failed to create task for container: failed to create shim task: OCI runtime create failed: unable to apply caps: operation not permitted';
    expect(r.stderr).toContain(`Error response from daemon: ${message}`);
    expect(r.stderr).not.toMatch(/created state/);
    expect(state('priv')).toMatchObject({ Status: 'created', Running: false, ExitCode: 128, Error: message });
    expect(leftovers(idOf('priv'))).toEqual([]);
  });

  it('docker start of that container: the same cause each time, never a state error; nothing left', () => {
    for (let i = 0; i < 2; i++) {
      const r = g.docker(['start', 'priv']);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(
        'Error response from daemon: failed to create task for container: failed to create shim task: OCI runtime create failed: unable to apply caps: operation not permitted',
      );
      expect(r.stderr).not.toMatch(/created state/);
    }
    expect(state('priv')).toMatchObject({ Status: 'created', ExitCode: 128 });
    expect(leftovers(idOf('priv'))).toEqual([]);
  });

  it('docker run of a program that is not there: exit 127 recorded, as dockerd', () => {
    const r = g.docker(['run', '--name', 'nope', 'busybox', 'nope']);
    expect(r.status).toBe(127);
    expect(r.stderr).toContain(
      'Error response from daemon: failed to create task for container: failed to create shim task: OCI runtime create failed: exec: "nope": executable file not found in $PATH',
    );
    expect(state('nope')).toMatchObject({ Status: 'created', ExitCode: 127 });
    expect(leftovers(idOf('nope'))).toEqual([]);
  });

  it('docker exec that cannot start: the message on stdout, exit 127/126, the container runs on', () => {
    const r = g.docker(['exec', 'box', 'nope']);
    expect(r).toEqual({ status: 127, stdout: 'OCI runtime exec failed: exec: "nope": executable file not found in $PATH\r\n', stderr: '' });
    const d = g.docker(['exec', '-d', 'box', 'nope']);
    expect(d.status).not.toBe(0);
    expect(d.stderr).toContain('Error response from daemon: OCI runtime exec failed: exec: "nope": executable file not found in $PATH');
    expect(state('box').Running).toBe(true);
    expect(g.ok(['exec', 'box', 'echo', 'still-here'])).toBe('still-here\n');
  });
});

describe('the same runtime failures through dockerd + runc (reference, root, setpriv)', () => {
  const missing = missingTools();
  if (!which('dockerd')) missing.push('dockerd (docker.io)');
  if (missing.length > 0 && process.env.CI !== 'true') {
    console.warn(`SKIPPING dockerd reference for runtime errors: missing ${missing.join(', ')} (under CI=true this fails)`);
    it.skip(`needs ${missing.join(', ')}`, () => undefined);
    return;
  }
  let d: TestDockerd;
  const docker = (args: string[]): CliResult => {
    const r = d.docker(args);
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  beforeAll(async () => {
    if (missing.length > 0) throw new Error(`dockerd reference needs ${missing.join(', ')}`);
    d = new TestDockerd('/usr/sbin/runc', BOUNDED);
    await d.start();
    const archive = join(d.dir, 'busybox.tar');
    const made = spawnSync('bash', [bundleTool, join(d.dir, 'bundle'), '--args', 'sh', '--docker-archive', archive, '--name', 'busybox:latest'], {
      encoding: 'utf8',
    });
    if (made.status !== 0) throw new Error(made.stderr);
    const loaded = docker(['load', '-i', archive]);
    if (loaded.status !== 0) throw new Error(loaded.stderr);
    const run = docker(['run', '-d', '--name', 'box', 'busybox', 'sleep', '300']);
    if (run.status !== 0) throw new Error(run.stderr);
  }, 120000);

  afterAll(async () => {
    await d?.stop();
  }, 60000);

  it.each(CASES)("$name: the runtime's words, and the exit code", ({ args, status, referenceStatus, says }) => {
    const r = docker(args);
    expect({ status: r.status, out: r.stdout + r.stderr }).toEqual({ status: referenceStatus ?? status, out: expect.stringContaining(says) });
  });
});
