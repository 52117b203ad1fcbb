/**
 * Namespaces on the real kernel: pid 1 and hostname, an empty network namespace, `exec` joining a
 * running container, and a created (not started) init that the container cannot inspect.
 */
import * as fs from 'node:fs';
import { describeRoot, readOr, useHarness, waitFor, type Json } from './helpers';

describeRoot('namespaces (root integration)', () => {
  const H = useHarness('ns');

  it('runs the process as pid 1 with the configured hostname', () => {
    const h = H();
    const b = h.bundleFor(['sh', '-c', 'echo $$; hostname'], (c) => {
      c.hostname = 'it-box';
    });
    const r = h.cli(['run', '-b', b, h.id()]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n')).toEqual(['1', 'it-box', '']);
  });

  it('gives the container a network namespace holding only lo', () => {
    const h = H();
    const b = h.bundleFor(['ls', '/sys/class/net']);
    const r = h.cli(['run', '-b', b, h.id()]);
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split(/\s+/)).toEqual(['lo']);
  });

  describe('exec into a running container', () => {
    it('joins its namespaces and cgroup, propagates exit codes, takes --process, and ps lists the pids', async () => {
      const h = H();
      const id = h.id('exec');
      const b = h.bundleFor(['sleep', '300'], (c) => {
        c.hostname = 'exec-box';
      });
      h.runDetached(id, b);
      const st = h.state(id);
      expect(st.status).toBe('running');
      const initPid: number = st.pid;

      // Same network (and mount, uts, ipc) namespace as the init: compare both views from inside.
      for (const ns of ['net', 'mnt', 'uts', 'ipc']) {
        const mine = h.ok(['exec', id, 'readlink', `/proc/self/ns/${ns}`]).trim();
        const init = h.ok(['exec', id, 'readlink', `/proc/1/ns/${ns}`]).trim();
        expect(mine).toMatch(new RegExp(`^${ns}:\\[\\d+\\]$`));
        expect(mine).toBe(init);
        // and it is the init's namespace as seen from the host, not the host's own
        expect(mine).toBe(fs.readlinkSync(`/proc/${initPid}/ns/${ns}`));
        expect(mine).not.toBe(fs.readlinkSync(`/proc/self/ns/${ns}`));
      }
      // The pid namespace: the exec'd shell is in it, and is not its init.
      const pidOut = h.ok(['exec', id, 'sh', '-c', 'echo $$; readlink /proc/self/ns/pid; cat /proc/1/cmdline | tr "\\0" " "']).trim().split('\n');
      expect(Number(pidOut[0])).toBeGreaterThan(1);
      expect(pidOut[1]).toBe(fs.readlinkSync(`/proc/${initPid}/ns/pid`));
      expect(pidOut[2]!.trim()).toBe('sleep 300');

      expect(h.ok(['exec', id, 'hostname']).trim()).toBe('exec-box');

      // The exec'd process is in the container's cgroup (cgroup namespace: its root is "/").
      const initCg = readOr(`/proc/${initPid}/cgroup`);
      expect(initCg).toMatch(new RegExp(`memory:/gantry/${id}\\n`));
      const execCg = h.ok(['exec', id, 'cat', '/proc/self/cgroup']);
      // every hierarchy: the same cgroup as the init (both seen through the cgroup namespace)
      expect(execCg).toBe(h.ok(['exec', id, 'cat', '/proc/1/cgroup']));
      const memLine = execCg.split('\n').find((l) => /:memory:/.test(l));
      expect(memLine).toMatch(/:memory:\/$/);
      const pidsLine = execCg.split('\n').find((l) => /:pids:/.test(l));
      expect(pidsLine).toMatch(/:pids:\/$/);
      // ... and the host agrees: a detached exec shows up in the container's cgroup.procs.
      // (a detached process keeps its stdio: never hand it a pipe we wait on)
      h.ok(['exec', '-d', id, 'sleep', '30'], { stdoutFd: 'ignore', stderrFd: 'ignore' });
      const procs = await waitFor('exec -d sleep in the pids cgroup', () => {
        const p = readOr(`/sys/fs/cgroup/pids/gantry/${id}/cgroup.procs`).split('\n').filter(Boolean).map(Number);
        return p.length >= 2 ? p : undefined;
      });
      expect(procs).toContain(initPid);

      // Exit codes propagate.
      expect(h.cli(['exec', id, 'sh', '-c', 'exit 5']).status).toBe(5);
      expect(h.cli(['exec', id, 'true']).status).toBe(0);

      // --process <file.json>, as containerd sends it.
      const proc: Json = {
        terminal: false,
        user: { uid: 1000, gid: 1000 },
        args: ['sh', '-c', 'echo "$FOO $(id -u) $(pwd)"'],
        env: ['PATH=/bin:/usr/bin', 'FOO=from-process-json'],
        cwd: '/tmp',
      };
      const pfile = h.file(`${id}-process.json`, JSON.stringify(proc));
      expect(h.ok(['exec', '--process', pfile, id]).trim()).toBe('from-process-json 1000 /tmp');

      // ps --format json lists the host pids of every process in the container.
      const pids: number[] = JSON.parse(h.ok(['ps', '--format', 'json', id]));
      expect(pids).toContain(initPid);
      expect(pids.length).toBeGreaterThanOrEqual(2);
      for (const p of pids) expect(readOr(`/proc/${p}/cgroup`)).toMatch(new RegExp(`pids:/gantry/${id}\\n`));
    });
  });

  it('keeps the init stage non-dumpable until execve: /proc/1/exe is unreadable before start', () => {
    const h = H();
    const id = h.id('dump');
    const b = h.bundleFor(['sleep', '300']);
    h.createDetached(id, b);
    expect(h.state(id).status).toBe('created');

    // As root in the container but without CAP_SYS_PTRACE: a non-dumpable init is off limits.
    const before = h.cli(['exec', id, 'readlink', '/proc/1/exe']);
    expect(before.status).not.toBe(0);
    const before2 = h.cli(['exec', id, 'sh', '-c', 'cat /proc/1/exe > /dev/null']);
    expect(before2.status).not.toBe(0);
    expect(before2.stderr).toMatch(/Permission denied/);

    h.ok(['start', id]);
    expect(h.state(id).status).toBe('running');
    // After execve the process is the user's program, dumpable again.
    const after = h.ok(['exec', id, 'readlink', '/proc/1/exe']).trim();
    expect(after).toBe('/bin/busybox');
    expect(h.ok(['exec', id, 'cat', '/proc/1/cmdline']).replace(/\0/g, ' ').trim()).toBe('sleep 300');
  });
});
