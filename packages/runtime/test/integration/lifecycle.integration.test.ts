/**
 * Lifecycle on the real kernel: kill and delete leave nothing behind, bad input fails cleanly with
 * one line on stderr, and hooks run in order with the right state.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CLI, cgroupDirsOf, describeRoot, mountsUnder, pidAlive, readOr, useHarness, waitFor, type Harness, type Json, type RunResult } from './helpers';

/** Nothing of container `id` is left: no state dir, no cgroup dir, no mount under the rootfs. */
function expectNothingLeft(h: Harness, id: string): void {
  expect(fs.existsSync(h.stateDir(id))).toBe(false);
  expect(cgroupDirsOf(id)).toEqual([]);
  expect(mountsUnder(h.rootfs)).toEqual([]);
}

/** A failed command: non-zero status and exactly one line on stderr. */
function expectOneLineError(r: RunResult, pattern?: RegExp): void {
  expect(r.error).toBeUndefined();
  expect(r.status).not.toBe(0);
  expect(r.status).not.toBeNull();
  const lines = r.stderr.split('\n').filter((l) => l.length > 0);
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^gantry-runtime: /);
  if (pattern) expect(lines[0]).toMatch(pattern);
}

describeRoot('lifecycle (root integration)', () => {
  const H = useHarness('life');

  describe('kill and delete leave nothing behind', () => {
    it('run -d, kill KILL, delete', async () => {
      const h = H();
      const id = h.id('kill');
      h.runDetached(id, h.bundleFor(['sleep', '300']));
      const st = h.state(id);
      expect(st.status).toBe('running');
      const pid: number = st.pid;
      expect(pidAlive(pid)).toBe(true);
      expect(cgroupDirsOf(id).length).toBeGreaterThanOrEqual(5);
      expect(fs.existsSync(h.stateDir(id))).toBe(true);
      // The container's mounts live in its own mount namespace only.
      expect(mountsUnder(h.rootfs)).toEqual([]);
      expect(readOr(`/proc/${pid}/mountinfo`)).toMatch(/ \/ ro,/);

      h.ok(['kill', id, 'KILL']);
      await waitFor('the container to stop', () => h.state(id).status === 'stopped', 5000);
      expect(h.state(id).pid).toBe(0);
      expect(pidAlive(pid)).toBe(false);
      // `list` still shows the stopped container until delete
      expect(JSON.parse(h.ok(['list', '--format', 'json'])).map((s: Json) => s.id)).toContain(id);

      h.ok(['delete', id]);
      expectNothingLeft(h, id);
      expect(pidAlive(pid)).toBe(false);
      expect(JSON.parse(h.ok(['list', '--format', 'json'])).map((s: Json) => s.id)).not.toContain(id);
      // deleting again: an error, but not with --force
      expectOneLineError(h.cli(['delete', id]), /does not exist/);
      expect(h.cli(['delete', '-f', id]).status).toBe(0);
    });

    it('kill with a signal name the container handles (TERM, SIGUSR1)', async () => {
      const h = H();
      const id = h.id('term');
      const log = h.runDetached(
        id,
        h.bundleFor(['sh', '-c', 'trap "echo got-usr1" USR1; trap "echo got-term; exit 7" TERM; echo ready; while :; do sleep 0.1; done']),
      );
      // pid 1 ignores a signal it has no handler for: send it only once the traps are set
      await waitFor('the traps to be set', () => readOr(log).includes('ready'));
      h.ok(['kill', id, 'SIGUSR1']);
      await waitFor('USR1 handled', () => readOr(log).includes('got-usr1'));
      h.ok(['kill', id, 'TERM']);
      await waitFor('TERM handled', () => readOr(log).includes('got-term'));
      await waitFor('the container to stop', () => h.state(id).status === 'stopped');
      h.ok(['delete', id]);
      expectNothingLeft(h, id);
    });

    it('run (foreground) forwards SIGTERM to the container and returns its exit status', async () => {
      const h = H();
      const id = h.id('fwd');
      const b = h.bundleFor(['sh', '-c', 'trap "echo got-term; exit 9" TERM; echo ready; while :; do sleep 0.1; done']);
      const child = spawn(process.execPath, [CLI, '--root', h.root, 'run', '-b', b, id], { stdio: ['ignore', 'pipe', 'pipe'] });
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      try {
        await waitFor('the container to be ready', () => out.includes('ready'), 10_000);
        child.kill('SIGTERM');
        expect(await exited).toBe(9);
        expect(out).toBe('ready\ngot-term\n');
        expectNothingLeft(h, id);
      } finally {
        clearTimeout(killer);
        child.kill('SIGKILL');
      }
    });

    it('delete --force of a running container with an exec process kills everything', async () => {
      const h = H();
      const id = h.id('force');
      h.runDetached(id, h.bundleFor(['sleep', '300']));
      const pid: number = h.state(id).pid;
      h.ok(['exec', '-d', id, 'sleep', '301'], { stdoutFd: 'ignore', stderrFd: 'ignore' });
      const pids = await waitFor('two processes', () => {
        const p: number[] = JSON.parse(h.ok(['ps', '--format', 'json', id]));
        return p.length >= 2 ? p : undefined;
      });
      h.ok(['delete', '--force', id]);
      expectNothingLeft(h, id);
      for (const p of [pid, ...pids]) expect(pidAlive(p)).toBe(false);
    });

    it('delete (without --force) of a created container kills its init, as runc does', () => {
      const h = H();
      const id = h.id('delcreated');
      h.createDetached(id, h.bundleFor(['sleep', '300']));
      const pid: number = h.state(id).pid;
      h.ok(['delete', id]);
      expectNothingLeft(h, id);
      expect(pidAlive(pid)).toBe(false);
    });

    it('--no-pivot runs the container with MS_MOVE + chroot', () => {
      const h = H();
      const r = h.cli(['run', '--no-pivot', '-b', h.bundleFor(['sh', '-c', 'echo $$; ls /sys/class/net']), h.id()]);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('1\nlo\n');
    });

    it('delete --force of a created (never started) and of a paused container', () => {
      const h = H();
      const created = h.id('created');
      h.createDetached(created, h.bundleFor(['sleep', '300']));
      const pid1: number = h.state(created).pid;
      expect(h.state(created).status).toBe('created');
      h.ok(['delete', '-f', created]);
      expectNothingLeft(h, created);
      expect(pidAlive(pid1)).toBe(false);

      const paused = h.id('paused');
      h.runDetached(paused, h.bundleFor(['sleep', '300']));
      const pid2: number = h.state(paused).pid;
      h.ok(['pause', paused]);
      expect(h.state(paused).status).toBe('paused');
      h.ok(['delete', '-f', paused]);
      expectNothingLeft(h, paused);
      expect(pidAlive(pid2)).toBe(false);
    });
  });

  describe('bad input fails with one line on stderr and leaves nothing behind', () => {
    const createFails = (h: Harness, bundle: string, pattern?: RegExp, id = h.id('bad')): void => {
      expectOneLineError(h.cli(['create', '-b', bundle, id]), pattern);
      expectNothingLeft(h, id);
      expectOneLineError(h.cli(['run', '-b', bundle, id]), pattern);
      expectNothingLeft(h, id);
    };

    it('malformed config.json', () => {
      const h = H();
      createFails(h, h.bundle('{"ociVersion": "1.0.2", "process": '), /invalid JSON|JSON/);
    });

    it('config.json without process', () => {
      const h = H();
      const c = h.config();
      delete c.process;
      createFails(h, h.bundle(c), /process/);
    });

    it('unknown namespace type "foo"', () => {
      const h = H();
      const c = h.config();
      c.linux.namespaces.push({ type: 'foo' });
      createFails(h, h.bundle(c), /namespace.*foo/);
    });

    it('missing rootfs directory', () => {
      const h = H();
      const c = h.config();
      c.root.path = 'no-such-rootfs';
      createFails(h, h.bundle(c), /rootfs/);
    });

    it('a program that does not exist in the rootfs fails at create', () => {
      const h = H();
      createFails(h, h.bundleFor(['/no/such/program']), /no\/such\/program/);
    });

    it('ids with "/" or ".."', () => {
      const h = H();
      const b = h.bundleFor(['true']);
      for (const id of ['a/b', '..', '../escape', 'x/../../y', '']) {
        const r = h.cli(['create', '-b', b, id]);
        expectOneLineError(r, /id/);
      }
      expect(fs.existsSync(path.join(h.tmp, 'escape'))).toBe(false);
      expect(fs.existsSync(path.join(path.dirname(h.root), 'y'))).toBe(false);
      // the state root holds nothing from these attempts
      expect(fs.existsSync(h.root) ? fs.readdirSync(h.root) : []).toEqual([]);
    });

    it('a duplicate id: the second create fails, the first container is intact', () => {
      const h = H();
      const id = h.id('dup');
      const b = h.bundleFor(['sh', '-c', 'echo first-ran; sleep 300']);
      const log = h.createDetached(id, b);
      const before = h.state(id);
      expect(before.status).toBe('created');
      const r = h.cli(['create', '-b', h.bundleFor(['true']), id]);
      expectOneLineError(r, /already exists/);
      const after = h.state(id);
      expect(after).toEqual(before);
      expect(pidAlive(after.pid)).toBe(true);
      expect(cgroupDirsOf(id).length).toBeGreaterThanOrEqual(5);
      // ... and still starts
      h.ok(['start', id]);
      expect(h.state(id).status).toBe('running');
      return waitFor('the first container to run', () => readOr(log).includes('first-ran'));
    });

    it('a user namespace without gid mappings is refused cleanly', () => {
      const h = H();
      const c = h.config();
      c.linux.namespaces.push({ type: 'user' });
      c.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      createFails(h, h.bundle(c), /no gid mappings/);
    });

    it('start of a stopped container', async () => {
      const h = H();
      const id = h.id('stopped');
      h.createDetached(id, h.bundleFor(['true']));
      h.ok(['start', id]);
      await waitFor('the container to stop', () => h.state(id).status === 'stopped');
      expectOneLineError(h.cli(['start', id]), /stopped/);
      expectOneLineError(h.cli(['exec', id, 'true']), /stopped/);
      expectOneLineError(h.cli(['pause', id]), /stopped/);
      h.ok(['delete', id]);
      expectNothingLeft(h, id);
    });

    it("a process the init cannot start (an rlimit above the kernel's) fails create with the init's own error, as runc's", () => {
      const h = H();
      const id = h.id('rlimit');
      const b = h.bundleFor(['true'], (c) => (c.process.rlimits = [{ type: 'RLIMIT_NOFILE', hard: 2000000000, soft: 2000000000 }]));
      // the init sets the limits (and user, capabilities, seccomp, cwd) before it reports ready
      expectOneLineError(h.cli(['create', '-b', b, id]), /prlimit 7: EPERM/);
      expectNothingLeft(h, id);
    });

    it("a startContainer hook that fails after start fails start with the init's own error", () => {
      const h = H();
      const id = h.id('starthook');
      h.createDetached(
        id,
        h.bundleFor(['true'], (c) => (c.hooks = { startContainer: [{ path: '/bin/false' }] })),
      );
      // create returned before the hook ran: the reason comes back through exec.fifo
      expectOneLineError(h.cli(['start', id]), /container .* could not start: .*startContainer/);
      expect(h.state(id).status).toBe('stopped');
      h.ok(['delete', id]);
      expectNothingLeft(h, id);
    });

    it('an unknown signal name for kill', () => {
      const h = H();
      const id = h.id('sig');
      h.runDetached(id, h.bundleFor(['sleep', '300']));
      expectOneLineError(h.cli(['kill', id, 'SIGFOO']), /signal/);
      expectOneLineError(h.cli(['kill', id, 'FOO']), /signal/);
      expect(h.state(id).status).toBe('running');
    });

    it('start of a running container, delete of a running container without --force', () => {
      const h = H();
      const id = h.id('running');
      h.runDetached(id, h.bundleFor(['sleep', '300']));
      const pid: number = h.state(id).pid;
      expectOneLineError(h.cli(['start', id]), /running/);
      expectOneLineError(h.cli(['delete', id]), /running/);
      expect(h.state(id).status).toBe('running');
      expect(pidAlive(pid)).toBe(true);
      expect(fs.existsSync(h.stateDir(id))).toBe(true);
    });

    it('operations on a container that does not exist', () => {
      const h = H();
      const id = h.id('ghost');
      for (const cmd of [['state'], ['start'], ['kill'], ['pause'], ['resume'], ['delete'], ['exec', 'x'], ['ps']]) {
        const [op, ...rest] = cmd;
        expectOneLineError(h.cli([op!, id, ...rest]), /does not exist/);
      }
      expectNothingLeft(h, id);
    });
  });

  describe('hooks', () => {
    /** A hook script (host sh, no busybox): appends "<name> <state json>" to the log. */
    function hook(h: Harness, log: string, name: string, exitCode = 0): Json {
      const script = h.file(
        `hook-${name}-${Math.random().toString(36).slice(2)}.sh`,
        `#!/bin/sh\nread -r state\nprintf '%s %s\\n' "$1" "$state" >> "$HOOK_LOG"\nexit ${exitCode}\n`,
      );
      fs.chmodSync(script, 0o755);
      return { path: script, args: ['hook', name], env: [`HOOK_LOG=${log}`] };
    }

    function entries(log: string): { name: string; state: Json }[] {
      return readOr(log)
        .split('\n')
        .filter(Boolean)
        .map((l) => ({ name: l.slice(0, l.indexOf(' ')), state: JSON.parse(l.slice(l.indexOf(' ') + 1)) }));
    }

    it('prestart, createRuntime, poststart and poststop run in order with the state on stdin', async () => {
      const h = H();
      const id = h.id('hooks');
      const log = h.file(`${id}-hooks.log`);
      const b = h.bundleFor(['sh', '-c', 'read x < /proc/1/comm; echo "main $x"; sleep 0.3'], (c) => {
        c.hooks = {
          prestart: [hook(h, log, 'prestart')],
          createRuntime: [hook(h, log, 'createRuntime1'), hook(h, log, 'createRuntime2')],
          poststart: [hook(h, log, 'poststart')],
          poststop: [hook(h, log, 'poststop')],
        };
        c.annotations = { 'org.example.test': 'yes' };
      });
      const bundle = fs.realpathSync(b);
      const out = h.createDetached(id, b);
      const pid: number = h.state(id).pid;
      expect(entries(log).map((e) => e.name)).toEqual(['prestart', 'createRuntime1', 'createRuntime2']);
      for (const e of entries(log)) {
        expect(e.state).toMatchObject({ id, pid, status: 'creating', bundle, annotations: { 'org.example.test': 'yes' } });
        expect(typeof e.state.ociVersion).toBe('string');
      }
      h.ok(['start', id]);
      expect(entries(log).map((e) => e.name)).toEqual(['prestart', 'createRuntime1', 'createRuntime2', 'poststart']);
      expect(entries(log)[3]!.state).toMatchObject({ id, pid, status: 'running', bundle });
      await waitFor('the container to stop', () => h.state(id).status === 'stopped', 5000);
      expect(readOr(out)).toContain('main sh');
      h.ok(['delete', id]);
      const all = entries(log);
      expect(all.map((e) => e.name)).toEqual(['prestart', 'createRuntime1', 'createRuntime2', 'poststart', 'poststop']);
      expect(all[4]!.state).toMatchObject({ id, status: 'stopped', bundle });
      expectNothingLeft(h, id);
    });

    it('a failing prestart hook fails create and leaves nothing behind', () => {
      const h = H();
      const id = h.id('badhook');
      const log = h.file(`${id}-hooks.log`);
      const b = h.bundleFor(['true'], (c) => {
        c.hooks = { prestart: [hook(h, log, 'prestart', 3)], poststart: [hook(h, log, 'poststart')] };
      });
      expectOneLineError(h.cli(['create', '-b', b, id]), /error running hook #0 \(prestart .*\): exit status 3/);
      expectNothingLeft(h, id);
      expect(entries(log).map((e) => e.name)).toEqual(['prestart']);
    });
  });
});
