import * as fs from 'node:fs';
import * as path from 'node:path';
import { status as Code } from '@grpc/grpc-js';
import { resolveCgroupPath } from '../../runtime/src/cgroups/path';
import { grpcError } from '../src/grpc-service';
import { TaskService, TaskStatus, type ShimEvent } from '../src/task-service';
import { fifoReader, makeBundle, makeFifo, waitFor } from './helpers';
import { describeIf, needRoot } from '@gantry/testkit';
import { linuxSys } from '@gantry/linux';

const d = describeIf(needRoot());

d('TaskService over the runtime library (root)', () => {
  let dir: string;
  let events: ShimEvent[];
  let svc: TaskService;
  const id = `shim-t-${process.pid}`;

  beforeEach(() => {
    events = [];
  });

  afterEach(async () => {
    try {
      svc.kill('', 9, true);
    } catch {
      // already stopped
    }
    try {
      await svc.wait('');
      await svc.delete('');
    } catch {
      // nothing to delete
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function setup(args: string[]): string {
    const bundle = makeBundle(args);
    dir = path.dirname(bundle);
    fs.mkdirSync(path.join(dir, 'state'));
    svc = new TaskService({ runtimeRoot: path.join(dir, 'runtime'), stateDir: path.join(dir, 'state'), publish: (e) => events.push(e) });
    return bundle;
  }

  it('creates, starts, copies stdout to the FIFO, reports the exit status and deletes', async () => {
    const bundle = setup(['sh', '-c', 'echo out; echo err >&2; exit 3']);
    const out = fifoReader(path.join(dir, 'out'));
    const err = fifoReader(path.join(dir, 'err'));
    const pid = await svc.create({ id, bundle, rootfs: [], terminal: false, stdin: '', stdout: path.join(dir, 'out'), stderr: path.join(dir, 'err') });
    expect(pid).toBeGreaterThan(1);
    expect(svc.state('').status).toBe(TaskStatus.CREATED);
    await svc.start('');
    const exit = await svc.wait('');
    expect(exit.exitStatus).toBe(3);
    await waitFor('output', () => out.text() === 'out\n' && err.text() === 'err\n');
    expect(svc.state('').status).toBe(TaskStatus.STOPPED);
    const del = await svc.delete('');
    expect(del).toMatchObject({ pid, exitStatus: 3 });
    expect(events.map((e) => e.topic)).toEqual(['/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete']);
    out.close();
    err.close();
  });

  it('a program that exits before start returns: stopped, deletable, /tasks/start before /tasks/exit', async () => {
    const bundle = setup(['true']);
    const pid = await svc.create({ id, bundle, rootfs: [], terminal: false, stdin: '', stdout: '', stderr: '' });
    // the runtime's start returns only once `true` has exited and been reaped by the shim
    const start = svc.runtime.start.bind(svc.runtime);
    jest.spyOn(svc.runtime, 'start').mockImplementation(async (cid: string) => {
      await start(cid);
      await waitFor('the init to be reaped', () => !fs.existsSync(`/proc/${pid}`));
      // an exit event now would come before the start's: allow it its chance (it must not come)
      await waitFor('an early exit event', () => events.some((e) => e.topic === '/tasks/exit'), 1000).catch(() => undefined);
    });
    await svc.start('');
    expect((await svc.wait('')).exitStatus).toBe(0);
    expect(svc.state('').status).toBe(TaskStatus.STOPPED);
    expect(await svc.delete('')).toMatchObject({ pid, exitStatus: 0 });
    expect(events.map((e) => e.topic)).toEqual(['/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete']);
  });

  it('feeds stdin from its FIFO and closes it on CloseIO', async () => {
    const bundle = setup(['sh', '-c', 'cat; echo done']);
    const out = fifoReader(path.join(dir, 'out'));
    const stdin = makeFifo(path.join(dir, 'in'));
    await svc.create({ id, bundle, rootfs: [], terminal: false, stdin, stdout: path.join(dir, 'out'), stderr: '' });
    await svc.start('');
    const w = fs.openSync(stdin, fs.constants.O_WRONLY);
    fs.writeSync(w, 'hello\n');
    fs.closeSync(w);
    await waitFor('echo of stdin', () => out.text() === 'hello\n');
    svc.closeIO('');
    expect((await svc.wait('')).exitStatus).toBe(0);
    await waitFor('done', () => out.text() === 'hello\ndone\n');
    out.close();
  });

  it('execs a second process with its own stdio and exit status, pauses and resumes', async () => {
    const bundle = setup(['sleep', '300']);
    await svc.create({ id, bundle, rootfs: [], terminal: false, stdin: '', stdout: '', stderr: '' });
    await svc.start('');
    const out = fifoReader(path.join(dir, 'exec-out'));
    svc.exec({
      execId: 'e1',
      spec: { args: ['sh', '-c', 'echo from-exec; exit 5'], cwd: '/', user: { uid: 0, gid: 0 }, env: ['PATH=/bin'] },
      terminal: false,
      stdin: '',
      stdout: path.join(dir, 'exec-out'),
      stderr: '',
    });
    const pid = await svc.start('e1');
    expect(pid).toBeGreaterThan(1);
    expect((await svc.wait('e1')).exitStatus).toBe(5);
    await waitFor('exec output', () => out.text() === 'from-exec\n');
    expect((await svc.delete('e1')).exitStatus).toBe(5);
    expect(svc.pids()).toContain(svc.state('').pid);
    svc.pause();
    expect(svc.state('').status).toBe(TaskStatus.PAUSED);
    svc.resume();
    expect(svc.state('').status).toBe(TaskStatus.RUNNING);
    svc.kill('', 9, false);
    expect((await svc.wait('')).exitStatus).toBe(137);
    out.close();
  });

  it('gives a terminal process a pty whose output reaches the stdout FIFO and resizes it', async () => {
    const bundle = setup(['sh', '-c', 'sleep 0.3; tty; stty size']);
    const out = fifoReader(path.join(dir, 'out'));
    const cfg = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
    cfg.process.terminal = true;
    fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(cfg));
    await svc.create({ id, bundle, rootfs: [], terminal: true, stdin: '', stdout: path.join(dir, 'out'), stderr: '' });
    svc.resizePty('', 100, 30);
    await svc.start('');
    expect((await svc.wait('')).exitStatus).toBe(0);
    await waitFor('tty output', () => /\/dev\/pts\/0\r\n30 100\r\n/.test(out.text()));
    out.close();
  });

  /** Whether anything of the container is left on the host: runtime state, cgroup, rootfs mount. */
  function leftovers(bundle: string): string[] {
    const out: string[] = svc.runtime.list().map((c) => `runtime state of ${c.id}`);
    const cg = resolveCgroupPath(undefined, id);
    for (const c of fs.readdirSync('/sys/fs/cgroup')) if (fs.existsSync(path.join('/sys/fs/cgroup', c, cg))) out.push(`cgroup ${c}${cg}`);
    if (fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${path.join(bundle, 'rootfs')} `)) out.push('rootfs mount');
    return out;
  }

  it("a create the runtime refuses fails with the runtime's message (UNKNOWN), leaves nothing, and the shim can create again", async () => {
    const bundle = setup(['nope']);
    // the rootfs as a mount, as gantry-containerd sends it: it must be unmounted again
    const rootfs = [{ type: 'bind', source: path.join(bundle, 'rootfs'), options: ['rbind', 'ro'] }];
    const err = await svc.create({ id, bundle, rootfs, terminal: false, stdin: '', stdout: '', stderr: '' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(grpcError(err)).toMatchObject({ code: Code.UNKNOWN, details: 'OCI runtime create failed: exec: "nope": executable file not found in $PATH' });
    expect(leftovers(bundle)).toEqual([]);
    expect(svc.idle()).toBe(true);
    expect(() => svc.state('')).toThrow(/not found/);
    expect(events).toEqual([]);
    // nothing half-made stands in the way of the next create
    const cfg = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
    cfg.process.args = ['true'];
    fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(cfg));
    await svc.create({ id, bundle, rootfs, terminal: false, stdin: '', stdout: '', stderr: '' });
    await svc.start('');
    expect((await svc.wait('')).exitStatus).toBe(0);
  });

  it('a terminal create the runtime refuses before the pty is made fails with its message, and nothing rejects unhandled', async () => {
    // unhandled, the console's pending receive() ended the shim process (Node's default) and the
    // daemon saw "Connection dropped" instead of the runtime's error
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    // the console socket's receive ends in recvFdAsync (woken by close() on a worker thread): its
    // settling is the event the check below waits for
    const sys = linuxSys();
    const recvFdAsync = sys.recvFdAsync.bind(sys);
    let received: Promise<void> | undefined;
    const spy = jest.spyOn(sys, 'recvFdAsync').mockImplementation((fd) => {
      const r = recvFdAsync(fd);
      received = r.then(
        () => undefined,
        () => undefined,
      );
      return r;
    });
    try {
      const bundle = setup(['sh']);
      const cfg = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
      cfg.process.terminal = true;
      cfg.mounts.push({ destination: '/missing-source', type: 'bind', source: path.join(dir, 'no-such-dir'), options: ['rbind'] });
      fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(cfg));
      const err = await svc.create({ id, bundle, rootfs: [], terminal: true, stdin: '', stdout: '', stderr: '' }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(grpcError(err)).toMatchObject({ code: Code.UNKNOWN, details: expect.stringContaining('no-such-dir') });
      expect(received).toBeDefined();
      await received;
      // an unhandled rejection is reported once the microtasks after its settling have run
      await new Promise((r) => setImmediate(r));
      expect(unhandled).toEqual([]);
      expect(leftovers(bundle)).toEqual([]);
    } finally {
      spy.mockRestore();
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it("an exec the runtime refuses fails Start with the runtime's message; the exec is gone and the task runs on", async () => {
    const bundle = setup(['sleep', '300']);
    await svc.create({ id, bundle, rootfs: [], terminal: false, stdin: '', stdout: '', stderr: '' });
    await svc.start('');
    svc.exec({
      execId: 'bad',
      spec: { args: ['nope'], cwd: '/', user: { uid: 0, gid: 0 }, env: ['PATH=/bin'] },
      terminal: false,
      stdin: '',
      stdout: '',
      stderr: '',
    });
    const err = await svc.start('bad').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(grpcError(err)).toMatchObject({ code: Code.UNKNOWN, details: 'OCI runtime exec failed: exec: "nope": executable file not found in $PATH' });
    expect(() => svc.state('bad')).toThrow(/exec bad not found/);
    expect(svc.state('').status).toBe(TaskStatus.RUNNING);
  });

  it("a start that fails (a startContainer hook) fails with the runtime's message, not a later state error", async () => {
    const bundle = setup(['true']);
    const cfg = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
    cfg.hooks = { startContainer: [{ path: '/bin/false' }] };
    fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(cfg));
    await svc.create({ id, bundle, rootfs: [], terminal: false, stdin: '', stdout: '', stderr: '' });
    const err = await svc.start('').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(grpcError(err)).toMatchObject({ code: Code.UNKNOWN, details: expect.stringMatching(/^OCI runtime start failed: .*error running hook #0/) });
    // the init gave up: the task ends stopped and deletes cleanly
    expect((await svc.wait('')).exitStatus).not.toBe(0);
    await svc.delete('');
    expect(leftovers(bundle)).toEqual([]);
  });

  it('publishes /tasks/oom when the memory cgroup kills the container', async () => {
    const bundle = setup(['sh', '-c', 'a=xxxxxxxxxxxxxxxx; while :; do a="$a$a"; done']);
    const cfg = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
    cfg.linux.resources = { ...(cfg.linux.resources ?? {}), memory: { limit: 32 * 1024 * 1024, swap: 32 * 1024 * 1024 } };
    fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(cfg));
    await svc.create({ id, bundle, rootfs: [], terminal: false, stdin: '', stdout: '', stderr: '' });
    await svc.start('');
    expect((await svc.wait('')).exitStatus).toBe(137);
    await waitFor('oom event', () => events.some((e) => e.topic === '/tasks/oom'));
    const topics = events.map((e) => e.topic);
    expect(topics.indexOf('/tasks/oom')).toBeGreaterThan(topics.indexOf('/tasks/start'));
    // the engine records OOMKilled with the exit: the oom event must come first
    expect(topics.indexOf('/tasks/oom')).toBeLessThan(topics.indexOf('/tasks/exit'));
  });
});
