/**
 * Named network namespaces: an nsfs bind mount on a file, as `ip netns` does under /run/netns
 * but in a directory of ours. The namespace is made by a short-lived `unshare --net=<file>`
 * (util-linux): a namespace belongs to a thread and Node is multi-threaded (design.md §1), so a
 * helper process unshares and bind-mounts, and the mount keeps the namespace alive after it exits.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { linuxSys, MNT_DETACH, readMountinfo } from '@gantry/linux';
import { run } from './run';

export async function createNetns(file: string): Promise<void> {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o711 });
  fs.closeSync(fs.openSync(file, fs.constants.O_CREAT | fs.constants.O_RDONLY, 0o444));
  try {
    await run(['unshare', `--net=${file}`, 'true']);
  } catch (e) {
    fs.rmSync(file, { force: true });
    throw e;
  }
}

/** True when `file` is an nsfs mount (a live namespace), by /proc/self/mountinfo. */
export function isNetnsMounted(file: string): boolean {
  const target = path.resolve(file);
  return readMountinfo().some((m) => m.mountPoint === target && m.fstype === 'nsfs');
}

/** Unmount and delete a namespace file; missing files and mounts are fine (idempotent). */
export function removeNetns(file: string): void {
  while (fs.existsSync(file) && isNetnsMounted(file)) {
    try {
      linuxSys().umount(file, MNT_DETACH);
    } catch {
      break;
    }
  }
  fs.rmSync(file, { force: true });
}

export function listNetns(dir: string): string[] {
  try {
    return fs.readdirSync(dir).map((n) => path.join(dir, n));
  } catch {
    return [];
  }
}
