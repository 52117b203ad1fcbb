/**
 * Debian's containerd + ctr drive the runtime under test through the runc v2 shim
 * (`ctr run --runc-binary <RUNTIME>`), as they would drive runc.
 *
 *   RUNTIME=/usr/sbin/runc npx jest ...   checks this harness against runc
 *   (default) RUNTIME=<repo>/bin/gantry-runtime
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestContainerd, sleep } from '../src/containerd';
import { bundleTool, isExecutable, runtimeUnderTest } from '../src/paths';

const RUNTIME = runtimeUnderTest();
const IMAGE_NAME = 'gantry-e2e/busybox:latest';
/** What `ctr images import` stores it as (docker reference normalisation). */
const IMAGE_REF = `docker.io/${IMAGE_NAME}`;

describe(`containerd + ctr with --runc-binary ${RUNTIME}`, () => {
  let containerd: TestContainerd | undefined;
  let seq = 0;
  const newId = (): string => `e2e-${process.pid}-${++seq}`;

  /** `ctr run`'s arguments with the runtime under test and everything kept under the harness directory. */
  const runArgs = (flags: string[], id: string, args: string[]): string[] => {
    const d = containerd!;
    return [
      'run',
      ...flags,
      '--runc-binary',
      RUNTIME,
      '--runc-root',
      join(d.dir, 'runtime-root'),
      '--fifo-dir',
      join(d.dir, 'fifo'),
      '--snapshotter',
      d.snapshotter,
      IMAGE_REF,
      id,
      ...args,
    ];
  };
  const ctrRun = (flags: string[], id: string, args: string[]) => containerd!.ctr(runArgs(flags, id, args));

  const describeFailure = (what: string, r: { status: number | null; stdout: string; stderr: string }): string =>
    `${what}: exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}\ncontainerd log:\n${containerd?.logTail(20)}`;

  beforeAll(async () => {
    if (!isExecutable(RUNTIME)) throw new Error(`runtime under test ${RUNTIME} is not executable (build it, or set RUNTIME)`);
    containerd = new TestContainerd('gantry-e2e');
    mkdirSync(join(containerd.dir, 'fifo'));
    const archive = join(containerd.dir, 'busybox.tar');
    const made = spawnSync('bash', [bundleTool, join(containerd.dir, 'bundle'), '--args', 'sh', '--docker-archive', archive, '--name', IMAGE_NAME], {
      encoding: 'utf8',
    });
    if (made.status !== 0) throw new Error(`make-busybox-bundle failed: ${made.stderr}`);
    await containerd.start();
  }, 60000);

  afterAll(async () => {
    await containerd?.stop();
  }, 60000);

  test('imports the busybox docker-archive made by tools/make-busybox-bundle.sh', () => {
    const d = containerd!;
    const imported = d.ctr(['images', 'import', '--snapshotter', d.snapshotter, join(d.dir, 'busybox.tar')]);
    expect(imported.status).toBe(0);
    const listed = d.ctr(['images', 'ls', '-q']);
    expect(listed.stdout.split('\n')).toContain(IMAGE_REF);
  });

  test('run --rm echo hi prints hi, exits 0 and removes the container', () => {
    const id = newId();
    const r = ctrRun(['--rm'], id, ['echo', 'hi']);
    expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 0, stdout: 'hi\n' });
    expect(containerd!.ctr(['containers', 'ls', '-q']).stdout.split('\n')).not.toContain(id);
  });

  test('the exit status of the task is the exit status of ctr run', () => {
    const r = ctrRun(['--rm'], newId(), ['sh', '-c', 'exit 3']);
    if (r.status !== 3) throw new Error(describeFailure('ctr run sh -c "exit 3"', r));
    expect(r.status).toBe(3);
  });

  test('the container gets its own pid namespace and the image rootfs', () => {
    const r = ctrRun(['--rm'], newId(), ['sh', '-c', 'echo $$; cat /etc/passwd | head -n 1']);
    expect({ status: r.status, lines: r.stdout.split('\n') }).toEqual({
      status: 0,
      lines: ['1', 'root:x:0:0:root:/root:/bin/sh', ''],
    });
  });

  test('run -d, then tasks kill and tasks delete', async () => {
    const d = containerd!;
    const id = newId();
    const started = ctrRun(['-d'], id, ['sleep', '1000']);
    if (started.status !== 0) throw new Error(describeFailure('ctr run -d', started));

    const task = d.tasks().get(id);
    expect(task?.status).toBe('RUNNING');
    const pid = task!.pid;
    expect(pid).toBeGreaterThan(1);
    // The task's pid, as containerd reports it, is the container's `sleep` on the host.
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, 2)).toEqual(['sleep', '1000']);

    const killed = d.ctr(['tasks', 'kill', '-s', 'SIGKILL', id]);
    expect(killed.status).toBe(0);
    const deadline = Date.now() + 10000;
    while (d.tasks().get(id)?.status !== 'STOPPED' && Date.now() < deadline) await sleep(50);
    expect(d.tasks().get(id)?.status).toBe('STOPPED');
    expect(existsSync(`/proc/${pid}`)).toBe(false);

    const deleted = d.ctr(['tasks', 'delete', id]);
    expect(deleted.status).toBe(0);
    expect(deleted.stderr).toMatch(/exit code 137/); // 128 + SIGKILL, reported back by ctr
    expect(d.tasks().has(id)).toBe(false);

    expect(d.ctr(['containers', 'rm', id]).status).toBe(0);
    expect(d.ctr(['containers', 'ls', '-q']).stdout.split('\n')).not.toContain(id);
  });

  test('tasks exec runs a process inside the running container and returns its output and status', async () => {
    const d = containerd!;
    const id = newId();
    const started = ctrRun(['-d'], id, ['sleep', '1000']);
    if (started.status !== 0) throw new Error(describeFailure('ctr run -d', started));
    try {
      const ex = d.ctr(['tasks', 'exec', '--exec-id', 'x1', id, 'sh', '-c', 'echo pid=$$ $(readlink /proc/self/ns/net) $(readlink /proc/1/ns/net); exit 4']);
      expect(ex.status).toBe(4);
      // a new process in the container's pid namespace (not pid 1), in the same network namespace as its init
      const m = /^pid=(\d+) (net:\[\d+\]) (net:\[\d+\])\n$/.exec(ex.stdout);
      expect(m).not.toBeNull();
      expect(m![1]).not.toBe('1');
      expect(m![2]).toBe(m![3]);
      const ps = d.ctr(['tasks', 'ps', id]);
      expect(ps.status).toBe(0);
      expect(ps.stdout).toContain(String(d.tasks().get(id)!.pid));
    } finally {
      d.ctr(['tasks', 'kill', '-s', 'SIGKILL', id]);
      const deadline = Date.now() + 10000;
      while (d.tasks().get(id)?.status !== 'STOPPED' && Date.now() < deadline) await sleep(50);
      d.ctr(['tasks', 'delete', id]);
      d.ctr(['containers', 'rm', id]);
    }
  });

  test('tasks pause and resume freeze and thaw the container', async () => {
    const d = containerd!;
    const id = newId();
    const started = ctrRun(['-d'], id, ['sleep', '1000']);
    if (started.status !== 0) throw new Error(describeFailure('ctr run -d', started));
    try {
      expect(d.ctr(['tasks', 'pause', id]).status).toBe(0);
      expect(d.tasks().get(id)?.status).toBe('PAUSED');
      const pid = d.tasks().get(id)!.pid;
      // a frozen task sleeps uninterruptibly in the freezer (D) on cgroup v1
      expect(readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(/State:\s+D/);
      expect(d.ctr(['tasks', 'resume', id]).status).toBe(0);
      expect(d.tasks().get(id)?.status).toBe('RUNNING');
    } finally {
      d.ctr(['tasks', 'kill', '-s', 'SIGKILL', id]);
      const deadline = Date.now() + 10000;
      while (d.tasks().get(id)?.status !== 'STOPPED' && Date.now() < deadline) await sleep(50);
      d.ctr(['tasks', 'delete', id]);
      d.ctr(['containers', 'rm', id]);
    }
  });

  test('run -t gives the container a terminal through the console socket', () => {
    const d = containerd!;
    const id = newId();
    const ctrArgs = ['-a', d.socket, '-n', d.namespace, ...runArgs(['-t', '--rm'], id, ['sh', '-c', 'tty; [ -t 0 ] && echo stdin-is-a-tty'])];
    // `script` gives ctr the terminal it insists on for -t
    const cmd = ['ctr', ...ctrArgs].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', timeout: 60000, stdio: ['pipe', 'pipe', 'pipe'], input: '' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/\/dev\/pts\/0/);
    expect(r.stdout).toContain('stdin-is-a-tty');
  });
});
