/**
 * kill -9 of the daemon at a point of its code the test chooses, without timing: a preload
 * (`node --require`) wraps one function of a Node module and, at the first call whose arguments
 * match, writes a mark file and blocks the daemon's thread for good. The test waits for the mark
 * and kills the daemon there.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_SHIM_NODE_FLAGS } from '../src/tasks/shim-manager';

export interface FreezePoint {
  /** the function: `fs.renameSync`, `child_process.spawn`, ... */
  call: string;
  /** a string argument ending with it, or an array argument holding it, makes the call match */
  arg: string;
  /** freeze before the call runs (default) or right after it returned */
  when?: 'before' | 'after';
}

const HOOK = `
const mods = { fs: require('node:fs'), child_process: require('node:child_process') };
const [modName, fnName] = process.env.GANTRY_TEST_FREEZE_CALL.split('.');
const arg = process.env.GANTRY_TEST_FREEZE_ARG;
const after = process.env.GANTRY_TEST_FREEZE_WHEN === 'after';
const mark = process.env.GANTRY_TEST_FREEZE_MARK;
const writeFileSync = mods.fs.writeFileSync;
const mod = mods[modName];
const orig = mod[fnName];
if (typeof orig !== 'function') throw new Error('freeze point: no ' + modName + '.' + fnName);
let frozen = false;
const matches = (args) => args.some((a) => (typeof a === 'string' ? a.endsWith(arg) : Array.isArray(a) && a.includes(arg)));
const freeze = (args) => {
  frozen = true;
  writeFileSync(mark, JSON.stringify(args.filter((a) => typeof a === 'string' || Array.isArray(a))));
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
};
mod[fnName] = function (...args) {
  const hit = !frozen && matches(args);
  if (hit && !after) freeze(args);
  const r = orig.apply(this, args);
  if (hit && after) freeze(args);
  return r;
};
`;

/** What TestDaemon.start takes to freeze there, and how to tell it did. */
export function freezeAt(dir: string, point: FreezePoint): { nodeArgs: string[]; env: NodeJS.ProcessEnv; frozen: () => boolean; mark: string } {
  const hook = path.join(dir, 'freeze-hook.js');
  const mark = path.join(dir, 'frozen');
  fs.writeFileSync(hook, HOOK);
  fs.rmSync(mark, { force: true });
  return {
    nodeArgs: ['--require', hook],
    env: {
      GANTRY_TEST_FREEZE_CALL: point.call,
      GANTRY_TEST_FREEZE_ARG: point.arg,
      GANTRY_TEST_FREEZE_WHEN: point.when ?? 'before',
      GANTRY_TEST_FREEZE_MARK: mark,
    },
    frozen: () => fs.existsSync(mark),
    mark,
  };
}

/**
 * Node flags for the daemon's shims (GANTRY_SHIM_NODE_FLAGS: the defaults plus a preload) that hold
 * each shim before it loads until `open()` is called: a shim still starting when the daemon restarts.
 * The shims' environment is scrubbed, so the gate's path is written into the preload.
 */
export function shimGate(dir: string): { flags: string; open: () => void } {
  const gate = path.join(dir, 'shim-gate-open');
  const hook = path.join(dir, 'shim-gate.js');
  fs.writeFileSync(
    hook,
    `const fs = require('node:fs');\nconst nap = new Int32Array(new SharedArrayBuffer(4));\nwhile (!fs.existsSync(${JSON.stringify(gate)})) Atomics.wait(nap, 0, 0, 20);\n`,
  );
  return { flags: [...DEFAULT_SHIM_NODE_FLAGS, '--require', hook].join(' '), open: () => fs.writeFileSync(gate, '') };
}
