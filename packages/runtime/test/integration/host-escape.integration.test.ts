/**
 * The container must never reach the host's filesystem through the runtime's own processes:
 * - CVE-2024-21626: a process.cwd (or `exec --cwd`) of /proc/self/fd/N, taken while a stage holds
 *   a host directory fd, puts the program's cwd on the host. Every N from 3 to 40 is tried.
 * - the exec stage must not be visible in the container's pid namespace while it still has the
 *   host's root: a container process with CAP_SYS_PTRACE reads /proc/<pid>/root/<host path>.
 * Each test plants a marker file on the host (in the harness's temp dir) and fails if its content
 * ever shows up. GANTRY_IT_CLI=<main's dist/cli/main.js> shows the old code failing them.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeRoot, mapLimit, readOr, useHarness, waitFor, type Harness } from './helpers';

const FDS = Array.from({ length: 38 }, (_, i) => 3 + i);
/** Runtime calls in flight at once for the per-fd attempts (each its own container or exec). */
const PARALLEL = 3;
const TMPFS_TMP = { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] };

/** A file on the host with unguessable content, and its path relative to any cwd (enough "../"). */
function hostMarker(h: Harness): { content: string; file: string; fromAnyCwd: string } {
  const content = `host-marker-${randomBytes(8).toString('hex')}`;
  const file = h.file(`marker-${randomBytes(4).toString('hex')}`, `${content}\n`);
  return { content, file, fromAnyCwd: `${'../'.repeat(24)}${file.slice(1)}` };
}

describeRoot('host escape through the runtime (root integration)', () => {
  const H = useHarness('escape');

  it('run: a cwd of /proc/self/fd/N never reaches the host, and fails create with a clear error', async () => {
    const h = H();
    const marker = hostMarker(h);
    const results = await mapLimit(FDS, PARALLEL, async (fd) => {
      const b = h.bundleFor(['cat', marker.fromAnyCwd], (c) => (c.process.cwd = `/proc/self/fd/${fd}`));
      return { fd, ...(await h.cliAsync(['run', '-b', b, h.id(`run${fd}`)])) };
    });
    expect(results.filter((r) => `${r.stdout}${r.stderr}`.includes(marker.content)).map((r) => r.fd)).toEqual([]);
    // Refused before the program runs, with the reason (not "init exited before start").
    const unclear = results.filter(
      (r) => r.status === 0 || r.stderr.trim().split('\n').length !== 1 || !/working directory \/proc\/self\/fd\/\d+/.test(r.stderr),
    );
    expect(unclear.map((r) => `fd ${r.fd}: status ${r.status}: ${r.stderr.trim()}`)).toEqual([]);
  }, 300_000);

  it('run: a host directory handed over with --preserve-fds is refused as a cwd (getcwd check)', () => {
    const h = H();
    const marker = hostMarker(h);
    const dir = fs.openSync(path.dirname(marker.file), 'r');
    try {
      const b = h.bundleFor(['cat', marker.fromAnyCwd], (c) => (c.process.cwd = '/proc/self/fd/3'));
      const r = h.cli(['run', '--preserve-fds', '1', '-b', b, h.id('pf')], { extraFds: [dir] });
      expect(`${r.stdout}${r.stderr}`).not.toContain(marker.content);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/working directory \/proc\/self\/fd\/3 is outside the container's root/);
    } finally {
      fs.closeSync(dir);
    }
  });

  it('exec: --cwd /proc/self/fd/N never reaches the host', async () => {
    const h = H();
    const marker = hostMarker(h);
    const id = h.id('execcwd');
    h.runDetached(id, h.bundleFor(['sleep', '300']));
    const results = await mapLimit(FDS, PARALLEL, async (fd) => ({
      fd,
      ...(await h.cliAsync(['exec', '--cwd', `/proc/self/fd/${fd}`, id, 'cat', marker.fromAnyCwd])),
    }));
    expect(results.filter((r) => `${r.stdout}${r.stderr}`.includes(marker.content)).map((r) => r.fd)).toEqual([]);
    const unclear = results.filter((r) => r.status === 0 || !/working directory \/proc\/self\/fd\/\d+/.test(r.stderr));
    expect(unclear.map((r) => `fd ${r.fd}: status ${r.status}: ${r.stderr.trim()}`)).toEqual([]);
    // A directory of the host passed on purpose is not a way in either.
    const dir = fs.openSync(path.dirname(marker.file), 'r');
    try {
      const r = h.cli(['exec', '--preserve-fds', '1', '--cwd', '/proc/self/fd/3', id, 'cat', marker.fromAnyCwd], { extraFds: [dir] });
      expect(`${r.stdout}${r.stderr}`).not.toContain(marker.content);
      expect(r.status).not.toBe(0);
    } finally {
      fs.closeSync(dir);
    }
    // and exec still works with an ordinary cwd
    expect(h.ok(['exec', '--cwd', '/etc', id, 'sh', '-c', 'pwd'])).toBe('/etc\n');
  }, 300_000);

  it('exec: a container with CAP_SYS_PTRACE scanning /proc/*/root never sees the host while execs start', async () => {
    const h = H();
    const marker = hostMarker(h);
    const id = h.id('ptrace');
    // Scan every visible process's root for the host marker until /tmp/stop appears. The first
    // pass also reads /proc/1/root/etc/passwd: proof that the scan can read other roots at all.
    const scan = [
      `m='${marker.file}'`,
      'n=0',
      'while [ ! -e /tmp/stop ]; do',
      '  for r in /proc/[0-9]*/root; do cat "$r$m" 2>/dev/null && echo "LEAK via $r"; done',
      '  n=$((n+1))',
      '  if [ $n = 1 ]; then head -n 1 /proc/1/root/etc/passwd; echo scanning; fi',
      'done',
      'echo "passes=$n"',
    ].join('\n');
    const b = h.bundleFor(['sh', '-c', scan], (c) => {
      c.mounts.push(TMPFS_TMP);
      for (const set of ['bounding', 'effective', 'permitted']) c.process.capabilities[set].push('CAP_SYS_PTRACE');
    });
    const log = h.runDetached(id, b);
    await waitFor('the scan to start', () => /^scanning$/m.test(readOr(log)), 20_000);
    // generous timeouts: the scan keeps a CPU busy, and these run on shared machines
    const started: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t0 = Date.now();
      h.ok(['exec', id, 'true'], { timeoutMs: 90_000 });
      started.push(Date.now() - t0);
    }
    h.ok(['exec', id, 'touch', '/tmp/stop'], { timeoutMs: 90_000 });
    await waitFor('the scan to stop', () => /^passes=\d+$/m.test(readOr(log)), 60_000);
    const out = readOr(log);
    console.log(`exec times under the scan (ms): ${started.join(' ')}`);
    expect(out).toMatch(/^root:x:0:0:/m);
    expect(out).not.toContain(marker.content);
    expect(out).not.toMatch(/LEAK/);
  }, 300_000);
});
