/** Shims held before they load: the daemon restarts while one is still starting. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_SHIM_NODE_FLAGS } from '../src/tasks/shim-manager';

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
