/**
 * gantry-runtime as a library (what a shim uses): create/start/wait/exec/delete in-process, with
 * the container's stdio on fds the caller chose.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeRoot, useHarness, waitFor } from './helpers';

// The library from the build: its stages run the bundle, dist/bundle/stage-main.js (npm run build).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const lib = require('../../dist') as typeof import('../../src');

describeRoot('library', () => {
  const harness = useHarness('lib');

  it('runs a container with its stdout and stderr on caller-provided fds and reports the exit status', async () => {
    const h = harness();
    const rt = new lib.Runtime({ root: h.root });
    const id = h.id('stdio');
    const out = path.join(h.tmp, 'out.txt');
    const err = path.join(h.tmp, 'err.txt');
    const outFd = fs.openSync(out, 'w');
    const errFd = fs.openSync(err, 'w');
    try {
      const created = await rt.create(id, {
        bundle: h.bundleFor(['sh', '-c', 'echo to-out; echo to-err >&2; read x || echo stdin-empty; exit 7']),
        stdio: ['ignore', outFd, errFd],
      });
      expect(rt.state(id).status).toBe('created');
      expect(created.init).toBeDefined();
      const exited = created.exited();
      await rt.start(id);
      expect(await exited).toBe(7);
    } finally {
      fs.closeSync(outFd);
      fs.closeSync(errFd);
    }
    expect(fs.readFileSync(out, 'utf8')).toBe('to-out\nstdin-empty\n');
    expect(fs.readFileSync(err, 'utf8')).toBe('to-err\n');
    expect(rt.state(id).status).toBe('stopped');
    await rt.delete(id);
    expect(() => rt.state(id)).toThrow(lib.ContainerIdError);
  });

  it('execs with its own stdio and exit status, and lists the pids', async () => {
    const h = harness();
    const rt = new lib.Runtime({ root: h.root });
    const id = h.id('exec');
    const created = await rt.create(id, { bundle: h.bundleFor(['sleep', '300']), stdio: ['ignore', 'ignore', 'ignore'] });
    await rt.start(id);
    const out = path.join(h.tmp, 'exec.txt');
    const fd = fs.openSync(out, 'w');
    try {
      const ex = await rt.exec(id, {
        process: { args: ['sh', '-c', 'echo exec-$$; exit 3'], cwd: '/', user: { uid: 0, gid: 0 }, env: ['PATH=/bin'] },
        stdio: ['ignore', fd, fd],
      });
      expect(rt.pids(id)).toEqual(expect.arrayContaining([created.state.pid]));
      // the program was reparented to us (exec made us a child subreaper) and is reaped by pid
      expect(await ex.exited).toBe(3);
      expect(rt.awaits(ex.pid)).toBe(false);
    } finally {
      fs.closeSync(fd);
    }
    expect(fs.readFileSync(out, 'utf8')).toMatch(/^exec-\d+\n$/);
    rt.kill(id, 9);
    expect(await created.exited()).toBe(137);
    await rt.delete(id);
  });

  it('keeps a warm exec stage outside the container until an exec takes it, and ends it on delete', async () => {
    const h = harness();
    const rt = new lib.Runtime({ root: h.root, warmExecIdleMs: 60_000 });
    const id = h.id('warm');
    const created = await rt.create(id, { bundle: h.bundleFor(['sleep', '300']), stdio: ['ignore', 'ignore', 'ignore'] });
    await rt.start(id);
    const init = created.state.pid;
    const ns = (pid: number, kind: string) => fs.readlinkSync(`/proc/${pid}/ns/${kind}`);
    const cgroupOf = (pid: number) => fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8');
    const out = path.join(h.tmp, 'warm.txt');
    const fd = fs.openSync(out, 'w');
    try {
      const execOnce = async (args: string[]) =>
        rt.exec(id, { process: { args, cwd: '/', user: { uid: 0, gid: 0 }, env: ['PATH=/bin'] }, stdio: ['ignore', fd, fd] });
      // the first exec starts its own stage, and the next one's
      expect(rt.ctx.warmStages!.pidOf(id)).toBeUndefined();
      expect(await (await execOnce(['sh', '-c', 'echo cold'])).exited).toBe(0);
      const warm = rt.ctx.warmStages!.pidOf(id)!;
      expect(warm).toBeGreaterThan(0);
      // waiting, it is in none of the container's namespaces, nor its cgroup: invisible from inside
      for (const kind of ['pid', 'mnt', 'net', 'ipc', 'uts']) expect(ns(warm, kind)).toBe(ns(process.pid, kind));
      expect(cgroupOf(warm)).toBe(cgroupOf(process.pid));
      expect(rt.pids(id)).not.toContain(warm);

      // the next exec takes it: the program is in the container's namespaces and cgroup, with our stdio
      const ex = await execOnce(['sh', '-c', 'echo warm-$$; exec sleep 300']);
      await waitFor('the taken warm stage to exit', () => !fs.existsSync(`/proc/${warm}`), 10_000);
      for (const kind of ['pid', 'mnt', 'net', 'ipc', 'uts']) expect(ns(ex.pid, kind)).toBe(ns(init, kind));
      expect(cgroupOf(ex.pid)).toBe(cgroupOf(init));
      expect(rt.pids(id)).toEqual(expect.arrayContaining([init, ex.pid]));
      const next = rt.ctx.warmStages!.pidOf(id)!;
      expect(next).toBeGreaterThan(0);
      expect(next).not.toBe(warm);
      process.kill(ex.pid, 'SIGKILL');
      expect(await ex.exited).toBe(137);
      expect(fs.readFileSync(out, 'utf8')).toMatch(/^cold\nwarm-\d+\n$/);

      rt.kill(id, 9);
      expect(await created.exited()).toBe(137);
      await rt.delete(id);
      expect(rt.ctx.warmStages!.pidOf(id)).toBeUndefined();
      await waitFor('the warm stage to end with its container', () => !fs.existsSync(`/proc/${next}`), 10_000);
    } finally {
      fs.closeSync(fd);
    }
  });

  it('creates a container in an init stage started ahead, which waited alone in a pid namespace of its own', async () => {
    const h = harness();
    const warmInit = lib.WarmInitStage.start({ bottomDir: h.root });
    expect(warmInit).toBeDefined();
    const warm = warmInit!.pid!;
    const ns = (pid: number, kind: string) => fs.readlinkSync(`/proc/${pid}/ns/${kind}`);
    const status = (pid: number) => fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    // booted and waiting for its bootstrap (stage.wait-bootstrap): blocked in a read, not running Node's start-up
    expect(await warmInit!.booted).toBe(true);
    // pid 1 of a new, empty pid namespace: no container's process can see it
    expect(ns(warm, 'pid')).not.toBe(ns(process.pid, 'pid'));
    expect(status(warm)).toMatch(new RegExp(`\nNSpid:\\s+${warm}\\s+1\n`));
    // in our other namespaces and cgroup; stdio /dev/null, every other fd a socket (no file of anyone's)
    for (const kind of ['mnt', 'net', 'ipc', 'uts', 'user']) expect(ns(warm, kind)).toBe(ns(process.pid, kind));
    expect(fs.readFileSync(`/proc/${warm}/cgroup`, 'utf8')).toBe(fs.readFileSync(`/proc/${process.pid}/cgroup`, 'utf8'));
    for (const fd of fs.readdirSync(`/proc/${warm}/fd`)) {
      const target = fs.readlinkSync(`/proc/${warm}/fd/${fd}`);
      if (Number(fd) <= 2) expect(target).toBe('/dev/null');
      else if (!target.startsWith('socket:') && !target.startsWith('anon_inode:') && !target.startsWith('pipe:')) expect(target).toMatch(/\.jsonl$/);
    }

    const rt = new lib.Runtime({ root: h.root, warmInit: warmInit! });
    const id = h.id('warminit');
    const out = path.join(h.tmp, 'warminit-out.txt');
    const err = path.join(h.tmp, 'warminit-err.txt');
    const outFd = fs.openSync(out, 'w');
    const errFd = fs.openSync(err, 'w');
    try {
      const created = await rt.create(id, {
        bundle: h.bundleFor(['sh', '-c', 'echo pid-$$; echo to-err >&2; read x || echo stdin-empty; exit 5']),
        stdio: ['ignore', outFd, errFd],
      });
      // the warm stage is the container's init now, in its cgroup and namespaces
      expect(created.state.pid).toBe(warm);
      expect(warmInit!.pid).toBeUndefined();
      expect(rt.pids(id)).toEqual([warm]);
      expect(ns(warm, 'mnt')).not.toBe(ns(process.pid, 'mnt'));
      const exited = created.exited();
      await rt.start(id);
      expect(await exited).toBe(5);
    } finally {
      fs.closeSync(outFd);
      fs.closeSync(errFd);
    }
    expect(fs.readFileSync(out, 'utf8')).toBe('pid-1\nstdin-empty\n');
    expect(fs.readFileSync(err, 'utf8')).toBe('to-err\n');
    await rt.delete(id);
  });

  it('ends an init stage started ahead that the container cannot use (the host pid namespace) and starts its own', async () => {
    const h = harness();
    const warmInit = lib.WarmInitStage.start({ bottomDir: h.root })!;
    const warm = warmInit.pid!;
    const rt = new lib.Runtime({ root: h.root, warmInit });
    const id = h.id('hostpid');
    const created = await rt.create(id, {
      bundle: h.bundleFor(['true'], (c) => {
        c.linux.namespaces = c.linux.namespaces.filter((n: { type: string }) => n.type !== 'pid');
      }),
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    expect(created.state.pid).not.toBe(warm);
    await waitFor(
      'the unused warm stage to end',
      () => !fs.existsSync(`/proc/${warm}`) || /\nState:\s+Z/.test(fs.readFileSync(`/proc/${warm}/status`, 'utf8')),
      10_000,
    );
    const exited = created.exited();
    await rt.start(id);
    expect(await exited).toBe(0);
    await rt.delete(id);
  });

  it('in a user namespace, the init is reparented to us and `exited` reaps it by pid', async () => {
    const h = harness();
    // the container's root (host uid 100000) must reach the rootfs
    for (const d of [path.dirname(path.dirname(h.rootfs)), path.dirname(h.rootfs)]) fs.chmodSync(d, 0o711);
    const rt = new lib.Runtime({ root: h.root });
    const id = h.id('userns');
    const out = path.join(h.tmp, 'userns.txt');
    const fd = fs.openSync(out, 'w');
    try {
      const created = await rt.create(id, {
        bundle: h.bundleFor(['sh', '-c', 'cat /proc/self/uid_map; exit 5'], (c) => {
          c.linux.namespaces.push({ type: 'user' });
          c.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65534 }];
          c.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65534 }];
        }),
        stdio: ['ignore', fd, fd],
      });
      // forked into the new pid namespace by the trampoline: not our child, but reparented to us
      expect(created.init).toBeUndefined();
      expect(fs.readFileSync(`/proc/${created.state.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]).toBe(String(process.pid));
      const exited = created.exited();
      await rt.start(id);
      expect(await exited).toBe(5);
      expect(rt.awaits(created.state.pid)).toBe(false);
    } finally {
      fs.closeSync(fd);
    }
    expect(fs.readFileSync(out, 'utf8').trim().split(/\s+/)).toEqual(['0', '100000', '65534']);
    await rt.delete(id);
  });
});
