/**
 * CVE-2024-21626 (runc GHSA-xr7r-f8xq-vfvv, "attack 1") against the OCI runtime itself, with no
 * engine in front: `<runtime> run` of a busybox bundle whose process.cwd is /proc/self/fd/N and
 * whose process reads a host marker through a path that climbs out of that directory. A runtime
 * that leaks a host directory fd into its init (runc <= 1.1.11 did) lets the process start with a
 * working directory on the host. Run against runc (the reference, which must pass) and
 * gantry-runtime (or $RUNTIME).
 *
 * A missing runtime skips it with a warning, and fails it under CI=true.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { HostFixture } from '../src/escape';
import { bundleTool, isExecutable, runtimeUnderTest, which } from '../src/paths';

const FDS = Array.from({ length: 38 }, (_v, i) => i + 3);
const runcPath = which('runc') ?? ['/usr/sbin/runc', '/usr/bin/runc'].find(isExecutable);

describe.each([
  ['runc', runcPath],
  ['gantry-runtime', runtimeUnderTest()],
])('CVE-2024-21626: %s run with process.cwd /proc/self/fd/N', (label, runtime) => {
  const missing = [
    ...(runtime && isExecutable(runtime) ? [] : [`${label} (${runtime ?? 'not on PATH'})`]),
    ...(fs.existsSync('/bin/busybox') ? [] : ['/bin/busybox']),
    ...(process.getuid?.() === 0 ? [] : ['root']),
  ];
  if (missing.length > 0 && process.env.CI !== 'true') {
    console.warn(`SKIPPING ${label} cwd attack: missing ${missing.join(', ')} (under CI=true this fails)`);
    it.skip(`needs ${missing.join(', ')}`, () => undefined);
    return;
  }

  let fx: HostFixture;
  let state: string;
  let rootfs: string;
  let baseConfig: Record<string, unknown> & { process: Record<string, unknown>; root: Record<string, unknown>; linux: Record<string, unknown> };
  const ids: string[] = [];
  /** Parent cgroup of every container here (cgroup v1 controllers or the unified tree). */
  const cgroupDirs = (): string[] => {
    const out: string[] = [];
    for (const h of fs.readdirSync('/sys/fs/cgroup')) {
      const d = join('/sys/fs/cgroup', h, fx.token);
      if (fs.existsSync(d)) out.push(d);
    }
    if (fs.existsSync(join('/sys/fs/cgroup', fx.token))) out.push(join('/sys/fs/cgroup', fx.token));
    return out;
  };
  const rt = (args: string[]) =>
    spawnSync(runtime!, ['--root', state, ...args], { encoding: 'utf8', timeout: 30000, killSignal: 'SIGKILL', stdio: ['ignore', 'pipe', 'pipe'] });

  beforeAll(() => {
    if (missing.length > 0) throw new Error(`needs ${missing.join(', ')}`);
    fx = new HostFixture();
    state = join(fx.dir, 'state');
    const bundle = join(fx.dir, 'bundle');
    const made = spawnSync('bash', [bundleTool, bundle, '--args', 'true'], { encoding: 'utf8' });
    if (made.status !== 0) throw new Error(`make-busybox-bundle: ${made.stderr}`);
    rootfs = join(bundle, 'rootfs');
    baseConfig = JSON.parse(fs.readFileSync(join(bundle, 'config.json'), 'utf8')) as typeof baseConfig;
  }, 60000);

  afterAll(() => {
    if (!fx) return;
    for (const id of ids) rt(['delete', '--force', id]);
    for (const d of cgroupDirs()) {
      try {
        fs.rmdirSync(d);
      } catch {
        // still in use: the last test reports it
      }
    }
    fx.remove();
  });

  it('the climbing path reaches the marker from a host directory fd (control, on the host)', () => {
    const r = spawnSync('sh', ['-c', 'exec 9<"$2" && cd /proc/self/fd/9 && cat "$1"', 'sh', HostFixture.climb(fx.marker), rootfs], { encoding: 'utf8' });
    expect(r.stdout).toBe(`${fx.markerContent}\n`);
  });

  it('no N in 3..40 gives the container a working directory on the host', () => {
    const leaks: string[] = [];
    const outcomes = new Map<string, number[]>();
    for (const n of FDS) {
      const id = `${fx.token}-cwd-${n}`;
      ids.push(id);
      const dir = join(fx.dir, `b-${n}`);
      fs.mkdirSync(dir);
      const config = JSON.parse(JSON.stringify(baseConfig)) as typeof baseConfig;
      config.process.cwd = `/proc/self/fd/${n}`;
      config.process.args = ['cat', HostFixture.climb(fx.marker)];
      config.process.terminal = false;
      config.root.path = rootfs;
      config.linux.cgroupsPath = `/${fx.token}/${id}`;
      fs.writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
      const r = spawnSync(runtime!, ['--root', state, 'run', '--bundle', dir, id], {
        encoding: 'utf8',
        timeout: 30000,
        killSignal: 'SIGKILL',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      if ((r.stdout + r.stderr).includes(fx.markerContent)) leaks.push(`fd ${n}: exit ${r.status}: ${r.stdout.trim()}`);
      const why = /(ENOTDIR|ENOENT|not a directory|no such file or directory|EACCES|permission denied)/i.exec(r.stderr)?.[1] ?? `exit ${r.status}`;
      outcomes.set(why, [...(outcomes.get(why) ?? []), n]);
    }
    expect(leaks).toEqual([]);
    expect(fs.readFileSync(fx.marker, 'utf8')).toBe(`${fx.markerContent}\n`);
    console.info(`${label}: ${[...outcomes].map(([why, ns]) => `${why}: fds ${ns.join(',')}`).join('; ')}`);
  }, 240000);

  it('leaves no container, process or cgroup behind', () => {
    const listed = rt(['list']);
    expect(listed.status).toBe(0);
    expect(listed.stdout.split('\n').filter((l) => l.includes(fx.token))).toEqual([]);
    const procs = fs
      .readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid)
      .filter((p) => {
        try {
          return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(fx.token);
        } catch {
          return false;
        }
      });
    expect(procs).toEqual([]);
    const busy = cgroupDirs().filter((d) => fs.readdirSync(d).some((e) => e.startsWith(fx.token)));
    expect(busy).toEqual([]);
  });
});
