/**
 * gantry-runtime as a library (what a shim uses): create/start/wait/exec/delete in-process, with
 * the container's stdio on fds the caller chose.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeRoot, useHarness } from './helpers';

// The library from the build: its init stage is the compiled dist/process/stage-main.js.
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
