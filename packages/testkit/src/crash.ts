/**
 * kill -9 tests without timing: a child process runs the code under test (from dist/) and the
 * test SIGKILLs it at a point the child reports on stdout, never after a fixed delay.
 *
 * Two ways to pick the point:
 * - `runChild(script, { killWhen })`: the child prints a line per finished operation and keeps
 *   going; the test kills it when `killWhen(line)` says so (it is then somewhere in the next one).
 * - `CRASH_HOOK` + `{ crashAt: n }`: the child stops itself just before its n-th file-system
 *   call after `__crash.arm()`, prints `crash <n> <call>` and blocks; the test kills it there.
 *   Stepping n = 1, 2, ... covers every instant between two file-system calls of an operation.
 */
import { spawn } from 'node:child_process';
import * as readline from 'node:readline';

/**
 * Prepend to a child script. Wraps the fs calls that change files (and FileHandle's) so that,
 * once armed, the `CRASH_AT`-th of them blocks the child instead of running. It blocks reading
 * stdin, a pipe the test never writes: if the test dies, the read returns 0 and the child exits.
 * `__crash.disarm()` returns how many calls the armed section made. fsync, close and read-only
 * opens are not stop points: after kill -9 (not a power cut) the disk looks the same before and
 * after them. (fs.rmSync removes a tree through fs.unlinkSync: each file is a stop point.)
 */
export const CRASH_HOOK = `
  const __fs = require('node:fs');
  const __crashAt = Number(process.env.CRASH_AT || 0);
  let __step = 0, __armed = false;
  const __write = __fs.writeSync, __read = __fs.readSync;
  const { O_ACCMODE, O_RDONLY, O_CREAT, O_TRUNC } = __fs.constants;
  // an open that can neither create nor change a file leaves the disk as it was
  const __readOnly = (name, args) => name === 'fs.openSync' &&
    (typeof args[1] === 'number' ? (args[1] & O_ACCMODE) === O_RDONLY && !(args[1] & (O_CREAT | O_TRUNC)) : args[1] === undefined || args[1] === 'r' || args[1] === 'rs');
  const __stop = (name, args) => {
    if (!__armed || __readOnly(name, args) || ++__step !== __crashAt) return;
    __write(1, 'crash ' + __step + ' ' + name + '\\n');
    __read(0, Buffer.alloc(1));
    process.exit(70);
  };
  const __wrap = (obj, names, label) => {
    for (const name of names) {
      const orig = obj[name];
      if (typeof orig !== 'function') throw new Error('crash hook: no ' + label + name);
      obj[name] = function (...args) { __stop(label + name, args); return orig.apply(this, args); };
    }
  };
  __wrap(__fs, ['openSync', 'writeSync', 'renameSync', 'linkSync', 'unlinkSync', 'rmSync', 'rmdirSync', 'mkdirSync',
    'chmodSync', 'truncateSync', 'ftruncateSync', 'writeFileSync', 'copyFileSync', 'symlinkSync'], 'fs.');
  globalThis.__crash = {
    /** Also stop in the methods of fs/promises' FileHandle (its prototype; close is an own property, not wrapped). */
    async wrapFileHandles() {
      const fh = await require('node:fs/promises').open('/dev/null', 'r');
      __wrap(Object.getPrototypeOf(fh), ['write', 'truncate', 'chmod'], 'FileHandle.');
      await fh.close();
    },
    arm() { __step = 0; __armed = true; },
    disarm() { __armed = false; return __step; },
  };
`;

export interface ChildResult {
  /** Every stdout line the child printed. */
  lines: string[];
  /** Whether the test killed it (false: it exited by itself). */
  killed: boolean;
  code: number | null;
}

/** Run `node -e script`; SIGKILL it as soon as `killWhen` accepts a line (or the child prints `crash ...`). */
export function runChild(
  script: string,
  opts: { killWhen?: (line: string) => boolean; crashAt?: number; onLine?: (line: string) => void } = {},
): Promise<ChildResult> {
  const env = { ...process.env, CRASH_AT: String(opts.crashAt ?? 0) };
  const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'], env });
  const lines: string[] = [];
  let killed = false;
  const rl = readline.createInterface({ input: child.stdout });
  rl.on('line', (line) => {
    lines.push(line);
    opts.onLine?.(line);
    if (!killed && (line.startsWith('crash ') || opts.killWhen?.(line))) {
      killed = true;
      child.kill('SIGKILL');
    }
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    // 'close': stdout is drained too, so `lines` is complete
    child.once('close', (code) => resolve({ lines, killed, code }));
  });
}

export interface CrashPoint {
  /** The child was told to stop before its n-th file-system call. */
  n: number;
  /** It finished instead (the operation makes n - 1 calls): every point has been tried. */
  finished: boolean;
  /** The call it stopped before (`fs.renameSync` ...), when it stopped. */
  call?: string;
}

/**
 * kill -9 at every point of an operation: runs `script` (which starts with CRASH_HOOK, arms it
 * around the operation and prints `done <__crash.disarm()>` at the end) with n = 1, 2, ... until
 * it finishes without stopping, calling `after` once per run to check what is on disk. Returns
 * the calls it stopped before, in order.
 */
export async function crashAtEachPoint(script: string, after: (p: CrashPoint) => void | Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  for (let n = 1; ; n++) {
    const r = await runChild(script, { crashAt: n });
    const last = r.lines[r.lines.length - 1] ?? '';
    const finished = !r.killed;
    let call: string | undefined;
    if (finished) {
      if (r.code !== 0 || last !== `done ${n - 1}`) throw new Error(`crash point ${n}: the child exited ${r.code} after "${last}" (expected "done ${n - 1}")`);
    } else {
      call = last.split(' ')[2];
      seen.push(call ?? '');
    }
    await after({ n, finished, call });
    if (finished) return seen;
  }
}
