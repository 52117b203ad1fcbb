import type { ChildProcess } from 'node:child_process';
import { SIGNALS } from '@gantry/linux';

/** Exit status in shell convention: the code, or 128 + signal number. */
export function waitExit(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    const done = (code: number | null, signal: NodeJS.Signals | null) => {
      resolve(code ?? 128 + (signal ? (SIGNALS[signal] ?? 0) : 0));
    };
    if (child.exitCode !== null || child.signalCode !== null) done(child.exitCode, child.signalCode);
    else child.once('exit', done);
  });
}
