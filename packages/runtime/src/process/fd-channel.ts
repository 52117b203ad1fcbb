import { SysError, type Sys } from '@gantry/linux';
import type { ParentMessage, StageChannel, StageMessage } from './messages';
import { decodeMessage, encodeMessage } from './wire';

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Newline-delimited JSON over the inherited socket fd, with blocking semantics on the stage's main thread. */
export function fdChannel(sys: Sys, fd: number): StageChannel {
  let buffered = '';
  return {
    fd,
    send(msg: StageMessage): void {
      const data = Buffer.from(`${encodeMessage(msg)}\n`);
      let off = 0;
      while (off < data.length) {
        try {
          off += sys.write(fd, data.subarray(off));
        } catch (e) {
          if (e instanceof SysError && e.code === 'EAGAIN') Atomics.wait(sleeper, 0, 0, 1);
          else throw e;
        }
      }
    },
    receive(): ParentMessage {
      for (;;) {
        const nl = buffered.indexOf('\n');
        if (nl >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          return decodeMessage<ParentMessage>(line);
        }
        let chunk: Buffer;
        try {
          chunk = sys.read(fd, 1 << 16);
        } catch (e) {
          if (e instanceof SysError && (e.code === 'EAGAIN' || e.code === 'EINTR')) {
            Atomics.wait(sleeper, 0, 0, 1);
            continue;
          }
          throw e;
        }
        if (chunk.length === 0) throw new ParentGoneError();
        buffered += chunk.toString('utf8');
      }
    },
  };
}

/** The runtime closed the sync socket: it failed (and reports why itself) or was killed. */
export class ParentGoneError extends Error {
  constructor() {
    super('parent closed the sync socket');
    this.name = 'ParentGoneError';
  }
}
