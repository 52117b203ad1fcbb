import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

/** A busybox bundle made by the repository's tool, in a fresh temp dir. */
export function makeBundle(args: string[], dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gantry-shim-t-'))): string {
  const bundle = path.join(dir, 'bundle');
  return busyboxBundle(bundle, args);
}

/** A FIFO the test reads everything from, as ctr's side of stdout. */
export function fifoReader(p: string): { text: () => string; close: () => void } {
  spawnSync('mkfifo', [p]);
  const sock = new net.Socket({ fd: fs.openSync(p, fs.constants.O_RDWR | fs.constants.O_NONBLOCK), readable: true, writable: false });
  let text = '';
  sock.on('data', (d: Buffer) => (text += d.toString()));
  return { text: () => text, close: () => sock.destroy() };
}

export function makeFifo(p: string): string {
  spawnSync('mkfifo', [p]);
  return p;
}

import { busyboxBundle } from '@gantry/testkit';
export { waitFor } from '@gantry/testkit';
