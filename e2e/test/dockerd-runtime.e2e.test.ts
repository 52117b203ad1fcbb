/**
 * Debian's dockerd (20.10, API 1.41) with the runtime under test registered as
 * `--add-runtime gantry=<RUNTIME>`, driven by the docker CLI: docker builds the OCI spec (default
 * seccomp profile, capabilities, read-only rootfs, user, memory limits) and calls the runtime
 * through containerd's runc v2 shim for create/start/exec/pause/resume/update/kill/delete.
 *
 *   RUNTIME=/usr/sbin/runc npx jest ...   checks this harness against runc (`gantry` is then runc)
 *   (default) RUNTIME=<repo>/bin/gantry-runtime
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CommandResult, sleep } from '../src/containerd';
import { TestDockerd } from '../src/dockerd';
import { bundleTool, isExecutable, runtimeUnderTest } from '../src/paths';

const RUNTIME = runtimeUnderTest();
const IMAGE = 'gantry-e2e/busybox:latest';
/** cgroup v1 (this machine) or the unified hierarchy: where the memory limits show inside a container. */
const CGROUP_V1 = existsSync('/sys/fs/cgroup/memory');
const MEMORY_LIMIT_FILE = CGROUP_V1 ? '/sys/fs/cgroup/memory/memory.limit_in_bytes' : '/sys/fs/cgroup/memory.max';

/** argv of a host process, NUL-separated ('' once it is gone). */
function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

describe(`dockerd with --runtime gantry (RUNTIME=${RUNTIME})`, () => {
  let dockerd: TestDockerd | undefined;
  let seq = 0;
  const newName = (): string => `e2e-${process.pid}-${++seq}`;
  const d = (): TestDockerd => {
    if (!dockerd) throw new Error('dockerd did not start (see beforeAll)');
    return dockerd;
  };

  /** `docker run --rm --runtime <runtime> --network none <flags> IMAGE <cmd>`. */
  const run = (runtime: 'gantry' | 'runc', flags: string[], cmd: string[]): CommandResult =>
    d().docker(['run', '--rm', '--runtime', runtime, '--network', 'none', ...flags, IMAGE, ...cmd]);

  const describeFailure = (what: string, r: CommandResult): string =>
    `${what}: exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}\ndockerd log:\n${dockerd?.logTail(20)}`;

  const ok = (what: string, r: CommandResult): CommandResult => {
    if (r.status !== 0) throw new Error(describeFailure(what, r));
    return r;
  };

  beforeAll(async () => {
    if (!isExecutable(RUNTIME)) throw new Error(`runtime under test ${RUNTIME} is not executable (build it, or set RUNTIME)`);
    dockerd = new TestDockerd(RUNTIME);
    const made = spawnSync(
      'bash',
      [bundleTool, join(dockerd.dir, 'bundle'), '--args', 'sh', '--docker-archive', join(dockerd.dir, 'busybox.tar'), '--name', IMAGE],
      { encoding: 'utf8' },
    );
    if (made.status !== 0) throw new Error(`make-busybox-bundle failed: ${made.stderr}`);
    await dockerd.start();
  }, 60000);

  afterAll(async () => {
    await dockerd?.stop();
  }, 60000);

  test('docker load takes the busybox docker-archive made by tools/make-busybox-bundle.sh', () => {
    const loaded = ok('docker load', d().docker(['load', '-i', join(d().dir, 'busybox.tar')]));
    expect(loaded.stdout).toContain(`Loaded image: ${IMAGE}`);
    expect(d().docker(['image', 'inspect', '-f', '{{.Os}}/{{.Architecture}}', IMAGE]).status).toBe(0);
  });

  test('run --rm prints the output and removes the container', () => {
    const name = newName();
    const r = run('gantry', ['--name', name], ['echo', 'hi']);
    expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 0, stdout: 'hi\n' });
    expect(d().docker(['ps', '-aq', '--filter', `name=^${name}$`]).stdout).toBe('');
  });

  test('the exit code of the container is the exit code of docker run', () => {
    const r = run('gantry', [], ['sh', '-c', 'exit 42']);
    if (r.status !== 42) throw new Error(describeFailure('docker run sh -c "exit 42"', r));
    expect(r.status).toBe(42);
  });

  test("docker's default seccomp profile and capabilities apply, exactly as with runc", () => {
    const probe = ['sh', '-c', 'grep -E "^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):" /proc/self/status'];
    const parse = (r: CommandResult): Record<string, string> =>
      Object.fromEntries(
        r.stdout
          .split('\n')
          .filter(Boolean)
          .map((line) => line.split(':').map((s) => s.trim()) as [string, string]),
      );
    const withGantry = parse(ok('status under gantry', run('gantry', [], probe)));
    const withRunc = parse(ok('status under runc', run('runc', [], probe)));
    expect(withGantry).toEqual(withRunc);
    expect(withGantry.Seccomp).toBe('2'); // SECCOMP_MODE_FILTER
    const capEff = BigInt(`0x${withGantry.CapEff}`);
    expect(capEff & (1n << 0n)).toBe(1n << 0n); // CAP_CHOWN: in docker's default set
    expect(capEff & (1n << 21n)).toBe(0n); // CAP_SYS_ADMIN: dropped
    expect(withGantry.CapBnd).toBe(withGantry.CapEff);
  });

  test('--read-only refuses writes to the rootfs (tmpfs /dev/shm stays writable)', () => {
    const r = run('gantry', ['--read-only'], ['sh', '-c', 'touch /x; echo rc=$?; touch /dev/shm/ok && echo shm-ok']);
    expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 0, stdout: 'rc=1\nshm-ok\n' });
    expect(r.stderr).toMatch(/Read-only file system/);
  });

  test('--user 1000:1000 runs the process as that user and group', () => {
    const r = run('gantry', ['--user', '1000:1000'], ['sh', '-c', 'id -u; id -g; grep -E "^(Uid|Gid):" /proc/self/status']);
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n').map((l) => l.replace(/\s+/g, ' '))).toEqual(['1000', '1000', 'Uid: 1000 1000 1000 1000', 'Gid: 1000 1000 1000 1000', '']);
  });

  test("--memory 64m shows as the limit of the container's memory cgroup", () => {
    const r = run('gantry', ['--memory', '64m'], ['cat', MEMORY_LIMIT_FILE]);
    expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 0, stdout: `${64 * 1024 * 1024}\n` });
  });

  test('run -d returns once the container runs its program, not before (as with runc)', () => {
    // `docker run -d` returns after the runtime's `start` returned. runc execs the user's program
    // right after the exec fifo is read, so pid 1 is already `sleep` here; read it without another
    // docker round trip (the container's cgroup lists its processes). Three tries make a late exec visible.
    const seen: string[] = [];
    for (let i = 0; i < 3; i++) {
      const started = d().docker(['run', '-d', '--runtime', 'gantry', '--network', 'none', IMAGE, 'sleep', '300']);
      const id = ok('docker run -d', started).stdout.trim();
      try {
        const procs = CGROUP_V1 ? `/sys/fs/cgroup/pids${d().cgroupParent}/${id}/cgroup.procs` : `/sys/fs/cgroup${d().cgroupParent}/${id}/cgroup.procs`;
        // the process that is pid 1 in the container's pid namespace (NSpid: <host pid> 1)
        const init = readFileSync(procs, 'utf8')
          .split('\n')
          .filter(Boolean)
          .find((pid) => /^NSpid:\s+\d+\s+1$/m.test(readFileSync(`/proc/${pid}/status`, 'utf8')));
        seen.push(init === undefined ? '(no init)' : cmdline(Number(init)).split('\0').slice(0, 2).join(' '));
      } finally {
        d().docker(['rm', '-f', id], { timeoutMs: 20000 });
      }
    }
    expect(seen).toEqual(['sleep 300', 'sleep 300', 'sleep 300']);
  });

  test('run -d, then exec, top, pause/unpause, update, stop -t 2 and rm', async () => {
    const started = d().docker(['run', '-d', '--runtime', 'gantry', '--network', 'none', IMAGE, 'sleep', '300']);
    const id = ok('docker run -d', started).stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    try {
      expect(d().inspect(id, '{{.State.Status}} {{.HostConfig.Runtime}}')).toBe('running gantry');
      const pid = Number(d().inspect(id, '{{.State.Pid}}'));
      // (how soon pid 1 becomes `sleep` is the test above; here only that it does)
      const execDeadline = Date.now() + 5000;
      while (!cmdline(pid).startsWith('sleep') && Date.now() < execDeadline) await sleep(20);
      expect(cmdline(pid).split('\0').slice(0, 2)).toEqual(['sleep', '300']);

      const ex = d().docker(['exec', id, 'sh', '-c', 'echo pid1=$(cat /proc/1/comm); exit 5']);
      expect({ status: ex.status, stdout: ex.stdout }).toEqual({ status: 5, stdout: 'pid1=sleep\n' });

      const top = ok('docker top', d().docker(['top', id]));
      const sleepRow = top.stdout.split('\n').find((l) => /\bsleep 300$/.test(l.trim()));
      expect(sleepRow).toBeDefined();
      expect(sleepRow!.trim().split(/\s+/)[1]).toBe(String(pid));

      ok('docker pause', d().docker(['pause', id]));
      expect(d().docker(['ps', '--filter', `id=${id}`, '--format', '{{.Status}}']).stdout).toMatch(/\(Paused\)/);
      expect(d().inspect(id, '{{.State.Status}} {{.State.Paused}}')).toBe('paused true');
      const freezerState = `/sys/fs/cgroup/freezer${d().cgroupParent}/${id}/freezer.state`;
      if (CGROUP_V1) expect(readFileSync(freezerState, 'utf8').trim()).toBe('FROZEN');
      ok('docker unpause', d().docker(['unpause', id]));
      expect(d().inspect(id, '{{.State.Status}} {{.State.Paused}}')).toBe('running false');
      if (CGROUP_V1) expect(readFileSync(freezerState, 'utf8').trim()).toBe('THAWED');

      ok('docker update', d().docker(['update', '--memory', '128m', '--memory-swap', '256m', id]));
      const swapFile = CGROUP_V1 ? '/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes' : '/sys/fs/cgroup/memory.swap.max';
      const limits = ok('exec cat limits', d().docker(['exec', id, 'sh', '-c', `cat ${MEMORY_LIMIT_FILE}; cat ${swapFile} 2>/dev/null || true`]));
      const [memory, swap] = limits.stdout.split('\n');
      expect(memory).toBe(String(128 * 1024 * 1024));
      // memory+swap on cgroup v1 (when swap accounting is on), swap alone on v2
      if (swap) expect(swap).toBe(String((CGROUP_V1 ? 256 : 128) * 1024 * 1024));
      expect(d().inspect(id, '{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}')).toBe(`${128 * 1024 * 1024} ${256 * 1024 * 1024}`);

      const t0 = Date.now();
      ok('docker stop -t 2', d().docker(['stop', '-t', '2', id]));
      expect(Date.now() - t0).toBeLessThan(15000);
      expect(d().inspect(id, '{{.State.Status}}')).toBe('exited');
      // sleep as pid 1 has no SIGTERM handler, so docker kills it after 2 s: 128 + SIGKILL (or SIGTERM)
      expect([137, 143]).toContain(Number(d().inspect(id, '{{.State.ExitCode}}')));
      const deadline = Date.now() + 5000;
      while (existsSync(`/proc/${pid}`) && Date.now() < deadline) await sleep(50);
      expect(existsSync(`/proc/${pid}`)).toBe(false);

      ok('docker rm', d().docker(['rm', id]));
      expect(d().docker(['ps', '-aq', '--filter', `id=${id}`]).stdout).toBe('');
      // deleting the container removes its cgroup
      if (CGROUP_V1) expect(existsSync(`/sys/fs/cgroup/memory${d().cgroupParent}/${id}`)).toBe(false);
    } finally {
      d().docker(['rm', '-f', id], { timeoutMs: 20000 });
    }
  }, 60000);

  test('run -it gives the container a terminal and passes its exit code through', () => {
    const r = d().dockerInTerminal(['run', '-it', '--rm', '--runtime', 'gantry', '--network', 'none', IMAGE, 'sh', '-c', 'tty; exit 3']);
    if (r.status !== 3) throw new Error(describeFailure('script -qec "docker run -it ..."', r));
    expect(r.status).toBe(3);
    expect(r.stdout).toMatch(/\/dev\/pts\/0\r?\n/);
  });
});
