/**
 * kill -9 of a Node daemon at a point of its code the test chooses, without timing: a preload
 * (`node --require`, or NODE_OPTIONS for a daemon started by another) wraps one function of a Node
 * module and, at the chosen call whose arguments match, writes a mark file and blocks the process's
 * thread for good. The test waits for the mark and kills the process there. A process that starts
 * once the mark exists (the killed daemon restarted by its supervisor) is not stopped again.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface FreezePoint {
  /** the function: `fs.renameSync`, `child_process.spawn`, ... */
  call: string;
  /** a string argument ending with it, or an array argument holding it, makes the call match */
  arg: string;
  /** freeze before the call runs (default) or right after it returned */
  when?: 'before' | 'after';
  /** freeze at the n-th matching call (default 1) */
  nth?: number;
  /** only in a process whose main script's path contains this (others load the preload too through NODE_OPTIONS) */
  script?: string;
}

const HOOK = `
const mods = { fs: require('node:fs'), child_process: require('node:child_process') };
const env = process.env;
const mark = env.GANTRY_TEST_FREEZE_MARK;
const script = env.GANTRY_TEST_FREEZE_SCRIPT;
if (mark && !mods.fs.existsSync(mark) && (!script || (process.argv[1] || '').includes(script))) {
  const [modName, fnName] = env.GANTRY_TEST_FREEZE_CALL.split('.');
  const arg = env.GANTRY_TEST_FREEZE_ARG;
  const after = env.GANTRY_TEST_FREEZE_WHEN === 'after';
  let left = Number(env.GANTRY_TEST_FREEZE_NTH || 1);
  const writeFileSync = mods.fs.writeFileSync;
  const mod = mods[modName];
  const orig = mod[fnName];
  if (typeof orig !== 'function') throw new Error('freeze point: no ' + modName + '.' + fnName);
  const matches = (args) => args.some((a) => (typeof a === 'string' ? a.endsWith(arg) : Array.isArray(a) && a.includes(arg)));
  const freeze = (args) => {
    writeFileSync(mark, JSON.stringify({ pid: process.pid, args: args.filter((a) => typeof a === 'string' || Array.isArray(a)) }));
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
  };
  mod[fnName] = function (...args) {
    const hit = left > 0 && matches(args) && --left === 0;
    if (hit && !after) freeze(args);
    const r = orig.apply(this, args);
    if (hit && after) freeze(args);
    return r;
  };
}
`;

export interface Freeze {
  /** Node flags that load the preload (`--require <file>`) */
  nodeArgs: string[];
  /** the same for NODE_OPTIONS */
  nodeOptions: string;
  /** the variables the preload reads */
  env: Record<string, string>;
  /** whether the process reached the point (and is frozen there) */
  frozen: () => boolean;
  /** the pid of the process frozen there */
  frozenPid: () => number | undefined;
}

/** The preload (written into `dir`) and environment that freeze a process at `point`. */
export function freezeAt(dir: string, point: FreezePoint): Freeze {
  const hook = path.join(dir, 'freeze-hook.js');
  const mark = path.join(dir, 'frozen');
  fs.writeFileSync(hook, HOOK);
  fs.rmSync(mark, { force: true });
  const frozenPid = (): number | undefined => {
    try {
      return (JSON.parse(fs.readFileSync(mark, 'utf8')) as { pid: number }).pid;
    } catch {
      return undefined;
    }
  };
  return {
    nodeArgs: ['--require', hook],
    nodeOptions: `--require ${hook}`,
    env: {
      GANTRY_TEST_FREEZE_CALL: point.call,
      GANTRY_TEST_FREEZE_ARG: point.arg,
      GANTRY_TEST_FREEZE_WHEN: point.when ?? 'before',
      GANTRY_TEST_FREEZE_NTH: String(point.nth ?? 1),
      GANTRY_TEST_FREEZE_SCRIPT: point.script ?? '',
      GANTRY_TEST_FREEZE_MARK: mark,
    },
    frozen: () => frozenPid() !== undefined,
    frozenPid,
  };
}
