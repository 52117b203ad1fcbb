/**
 * Against the real cgroup v1 hierarchies of this host (root only). Creates /gantry-test-<random>/<id>
 * and removes it in afterAll whatever happens.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { CgroupV1Manager, detectCgroupVersion, openCgroup, type CgroupManager } from '../src/cgroups';
import { describeIf } from '@gantry/testkit';

const ROOT = '/sys/fs/cgroup';
const NEEDED = ['memory', 'pids', 'cpu', 'freezer', 'cpuset'];

function skipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'not running as root';
  if (!fs.existsSync(ROOT)) return `${ROOT} does not exist`;
  if (detectCgroupVersion(ROOT) !== 1) return `${ROOT} is a cgroup v2 (unified) mount, not v1`;
  const missing = NEEDED.filter((c) => !fs.existsSync(`${ROOT}/${c}/cgroup.procs`));
  return missing.length ? `cgroup v1 hierarchies not mounted: ${missing.join(', ')}` : undefined;
}

describeIf(skipReason())('cgroup v1 manager on the real hierarchy', () => {
  const parentPath = `/gantry-test-${randomBytes(4).toString('hex')}`;
  const id = `c-${randomBytes(4).toString('hex')}`;
  const cgPath = `${parentPath}/${id}`;
  let cg: CgroupManager;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  afterAll(async () => {
    // A frozen task cannot die: thaw first, then kill, then remove the whole test subtree.
    try {
      if (cg?.exists()) cg.thaw();
    } catch {
      /* best effort */
    }
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    openCgroup(parentPath, 'cleanup').destroy();
  });

  it('creates, limits, freezes, reports and destroys', async () => {
    cg = openCgroup(cgPath, id);
    expect(cg).toBeInstanceOf(CgroupV1Manager);
    const m = cg as CgroupV1Manager;
    cg.create();
    cg.setResources({ memory: { limit: 64 * 1024 * 1024 }, pids: { limit: 20 }, cpu: { shares: 512 } });

    const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
    child = sleeper;
    exited = new Promise((resolve) => sleeper.once('exit', () => resolve()));
    const pid = sleeper.pid as number;
    expect(pid).toBeGreaterThan(0);
    cg.addProcess(pid);
    expect(cg.pids()).toContain(pid);

    const kernel = (sub: string, file: string): string => fs.readFileSync(`${m.dir(sub)}/${file}`, 'utf8').trim();
    expect(m.dir('memory')).toBe(`${ROOT}/memory${cgPath}`);
    expect(kernel('memory', 'memory.limit_in_bytes')).toBe(String(64 * 1024 * 1024));
    expect(kernel('pids', 'pids.max')).toBe('20');
    expect(kernel('cpu', 'cpu.shares')).toBe('512');
    expect(kernel('cpuset', 'cpuset.cpus')).not.toBe('');
    const procCgroup = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8');
    expect(procCgroup).toMatch(new RegExp(`:memory:${cgPath}$`, 'm'));
    expect(procCgroup).toMatch(new RegExp(`:freezer:${cgPath}$`, 'm'));

    cg.freeze();
    expect(cg.freezerState()).toBe('frozen');
    expect(kernel('freezer', 'freezer.state')).toBe('FROZEN');
    // Frozen tasks sleep uninterruptibly (D); a plain sleeping `sleep` would show S.
    expect(fs.readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(/^State:\s+D/m);
    cg.thaw();
    expect(cg.freezerState()).toBe('thawed');
    expect(kernel('freezer', 'freezer.state')).toBe('THAWED');

    const stats = cg.stats();
    expect(stats.memory.usage.limit).toBe(64 * 1024 * 1024);
    expect(stats.pids.current).toBeGreaterThanOrEqual(1);
    expect(stats.pids.limit).toBe(20);
    const numbers: number[] = [
      stats.cpu.usage.total,
      stats.cpu.usage.user,
      stats.cpu.usage.kernel,
      ...(stats.cpu.usage.percpu ?? []),
      stats.cpu.throttling.periods ?? 0,
      stats.memory.usage.usage ?? 0,
      stats.memory.usage.failcnt,
      stats.memory.cache ?? 0,
      ...Object.values(stats.memory.raw ?? {}),
    ];
    for (const n of numbers) expect(n).toBeGreaterThanOrEqual(0);
    expect(cg.oomKillCount()).toBe(0);

    sleeper.kill('SIGKILL');
    await exited;
    cg.destroy();
    expect(cg.exists()).toBe(false);
    openCgroup(parentPath, 'parent').destroy();
    for (const h of fs.readdirSync(ROOT)) {
      expect(fs.existsSync(`${ROOT}/${h}${parentPath}`)).toBe(false);
    }
  });
});
