import * as fs from 'node:fs';
import * as path from 'node:path';
import { InitError, StateError } from '../errors';
import { runHooks } from '../hooks';
import { EXEC_FIFO, toOciState } from '../state/store';
import { isAlive, sleep, type RuntimeContext } from './context';

/**
 * Start a created container: open exec.fifo for reading, which releases the init stage blocked in
 * open(O_WRONLY), read its byte, remove the fifo. Non-blocking, so a dead init cannot hang us.
 */
export async function startContainer(ctx: RuntimeContext, id: string): Promise<void> {
  const { c, status } = ctx.loadWithStatus(id);
  if (status !== 'created') {
    throw new StateError(status === 'stopped' ? `cannot start a container that has stopped` : `cannot start container ${id}: container is ${status}`);
  }
  const fifo = path.join(ctx.store.dir(id), EXEC_FIFO);
  const fd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  try {
    const buf = Buffer.alloc(1);
    for (;;) {
      let n = 0;
      try {
        n = fs.readSync(fd, buf, 0, 1, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      }
      if (n === 1) break;
      if (!isAlive(c.pid, c.pidStartTime)) throw new InitError(`container ${id} init exited before start`);
      await sleep(1);
    }
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
