import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

const REPO = path.resolve(__dirname, '../../..');

/** A busybox bundle made by the repository's tool, in a fresh temp dir. */
export function makeBundle(args: string[], dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gantry-shim-t-'))): string {
  const bundle = path.join(dir, 'bundle');
  const r = spawnSync('bash', [path.join(REPO, 'tools/make-busybox-bundle.sh'), bundle, '--', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`make-busybox-bundle: ${r.stderr}`);
  return bundle;
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

export { waitFor } from '@gantry/testkit';
