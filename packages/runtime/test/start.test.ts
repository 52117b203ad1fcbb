/**
 * `start` against a real exec.fifo, with the init stage played by the test: the liveness check is
 * replaced so that the stage answers (or dies) exactly between start's read and that check.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FakeSys } from '@gantry/linux';
import * as context from '../src/container/context';
import { startContainer } from '../src/container/start';
import { InitError } from '../src/errors';
import { defaultSpec } from '../src/spec/default-spec';
import { EXEC_FIFO, execFifoFailure, processStartTime, type StoredContainer } from '../src/state/store';

describe('startContainer', () => {
  let root: string;
  let ctx: context.RuntimeContext;
  let fifo: string;

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'gantry-start-'));
    ctx = new context.RuntimeContext({ root, sys: new FakeSys() });
    const dir = ctx.store.claim('c1');
    fifo = path.join(dir, EXEC_FIFO);
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    // the test process stands in for the init: alive, so the container is 'created'
    const c: StoredContainer = {
      id: 'c1',
      bundle: '/b',
      rootfs: '/b/rootfs',
      created: new Date().toISOString(),
      owner: 'root',
      pid: process.pid,
      pidStartTime: processStartTime(process.pid)!,
      recorded: 'created',
      cgroupPath: '/gantry/c1',
      spec: defaultSpec(),
    };
    ctx.store.save(c);
  });
  afterEach(() => {
    jest.restoreAllMocks();
    fs.rmSync(root, { recursive: true, force: true });
  });

  /** The init's side: start has the fifo open for reading, so a non-blocking open for writing succeeds. */
  const answer = (data: string | Buffer) => {
    const fd = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    fs.writeSync(fd, Buffer.from(data));
    fs.closeSync(fd);
  };

  it('starts when the init answered and its program exited between the read and the liveness check', async () => {
    // e.g. `docker run --rm busybox true`: "0" written, execve, exit, all before start looked
    const alive = jest.spyOn(context, 'isAlive').mockImplementation(() => {
      answer('0');
      return false;
    });
    await startContainer(ctx, 'c1');
    expect(alive).toHaveBeenCalledTimes(1);
    expect(ctx.store.load('c1').recorded).toBe('running');
    expect(fs.existsSync(fifo)).toBe(false);
  });

  it('returns once the init closed its end of the fifo (its execve), not at its answer', async () => {
    const events: string[] = [];
    let writer: number | undefined;
    let sleeps = 0;
    jest.spyOn(context, 'isAlive').mockReturnValue(true);
    jest.spyOn(context, 'sleep').mockImplementation(async () => {
      sleeps++;
      if (writer === undefined) {
        // the init's answer, its end kept open as the stage keeps it until execve
        writer = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
        fs.writeSync(writer, '0');
        events.push('answered');
      } else if (sleeps === 5) {
        fs.closeSync(writer);
        events.push('execve');
      }
    });
    await startContainer(ctx, 'c1');
    events.push('started');
    expect(events).toEqual(['answered', 'execve', 'started']);
    expect(sleeps).toBe(5);
    expect(ctx.store.load('c1').recorded).toBe('running');
  });

  it("fails with the init's own error when it could not start the process", async () => {
    let told = false;
    jest.spyOn(context, 'isAlive').mockImplementation(() => {
      if (!told) answer(execFifoFailure('capset: Operation not permitted'));
      told = true;
      return true;
    });
    await expect(startContainer(ctx, 'c1')).rejects.toThrow(new InitError('container c1 could not start: capset: Operation not permitted'));
  });

  it('fails when the init died without answering', async () => {
    jest.spyOn(context, 'isAlive').mockReturnValue(false);
    await expect(startContainer(ctx, 'c1')).rejects.toThrow(new InitError('container c1 init exited before start'));
  });
});
