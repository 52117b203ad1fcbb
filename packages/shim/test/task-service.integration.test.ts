import * as fs from 'node:fs';
import * as path from 'node:path';
import { TaskService, TaskStatus, type ShimEvent } from '../src/task-service';
import { fifoReader, makeBundle, makeFifo, waitFor } from './helpers';
import { describeIf, needRoot } from '../../../tools/testing/requirements';

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
    svc.exec({ execId: 'e1', spec: { args: ['sh', '-c', 'echo from-exec; exit 5'], cwd: '/', user: { uid: 0, gid: 0 }, env: ['PATH=/bin'] }, terminal: false, stdin: '', stdout: path.join(dir, 'exec-out'), stderr: '' });
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
