import * as fs from 'node:fs';
import * as path from 'node:path';
import { InitError, StateError } from '../errors';
import { runHooks } from '../hooks';
import { EXEC_FIFO, EXEC_FIFO_FAILED, EXEC_FIFO_GO, PIPE_BUF, toOciState } from '../state/store';
import { isAlive, sleep, type RuntimeContext } from './context';

/** What one non-blocking read of exec.fifo found: bytes, the end (no writer: none yet, or gone), or a writer with nothing to say yet. */
function readFifo(fd: number, buf: Buffer): number | 'eof' | 'empty' {
  try {
    const n = fs.readSync(fd, buf, 0, buf.length, null);
    return n === 0 ? 'eof' : n;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EAGAIN') return 'empty';
    throw e;
  }
}

/**
 * Start a created container: open exec.fifo for reading, which releases the init stage blocked in
 * open(O_WRONLY), read its answer, then wait for the end of file: the stage keeps its end open
 * until execve closes it, so `start` returns once the container runs its program, as `runc start`
 * (which reads the fifo to its end). Non-blocking, so a dead init cannot hang us.
 */
export async function startContainer(ctx: RuntimeContext, id: string): Promise<void> {
  const { c, status } = ctx.loadWithStatus(id);
  if (status !== 'created') {
    throw new StateError(status === 'stopped' ? `cannot start a container that has stopped` : `cannot start container ${id}: container is ${status}`);
  }
  const fifo = path.join(ctx.store.dir(id), EXEC_FIFO);
  const fd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  try {
    const buf = Buffer.alloc(PIPE_BUF);
    for (;;) {
      let r = readFifo(fd, buf);
      if (typeof r !== 'number' && !isAlive(c.pid, c.pidStartTime)) {
        // Between that read and this check the init may have answered and execve'd a program
        // that has already exited (`true`): its answer is in the fifo, read it once more.
        r = readFifo(fd, buf);
        if (typeof r !== 'number') throw new InitError(`container ${id} init exited before start`);
      }
      if (typeof r === 'number') {
        const answer = buf.subarray(0, r).toString();
        if (answer.startsWith(EXEC_FIFO_GO)) break;
        throw new InitError(`container ${id} could not start: ${answer.startsWith(EXEC_FIFO_FAILED) ? answer.slice(1) : JSON.stringify(answer)}`);
      }
      await sleep(1);
    }
    // the answer was "go": the stage's end closes at its execve (or its death)
    while (readFifo(fd, buf) !== 'eof') await sleep(1);
  } finally {
    fs.closeSync(fd);
  }
  fs.rmSync(fifo, { force: true });
  c.recorded = 'running';
  ctx.store.save(c);
  const hooks = c.spec.hooks?.poststart;
  if (hooks?.length) {
    try {
      runHooks('poststart', hooks, { ...toOciState(c, 'running'), status: 'running' });
    } catch (e) {
      // The spec says a failed poststart hook is logged and the lifecycle goes on.
      process.emitWarning((e as Error).message);
    }
  }
}
