/**
 * A pod's shared namespaces, pinned: a short-lived `unshare --net=<file> --ipc=<file> true`
 * (util-linux) bind-mounts the new namespaces on files, and containers join them by path. No
 * pause process: nothing runs in a pod that is not one of its containers, and a pod costs one
 * process start instead of a container start (see the README's CRI section).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { removeNetns, run } from '@gantry/network';

export interface PinnedNamespaces {
  net: string;
  ipc: string;
}

export async function pinNamespaces(dir: string, want: { net: boolean; ipc: boolean }): Promise<PinnedNamespaces> {
  fs.mkdirSync(dir, { recursive: true, mode: 0o711 });
  const files = { net: want.net ? path.join(dir, 'netns') : '', ipc: want.ipc ? path.join(dir, 'ipcns') : '' };
  const args = ['unshare'];
  for (const [flag, file] of [
    ['--net', files.net],
    ['--ipc', files.ipc],
  ] as const) {
    if (!file) continue;
    fs.closeSync(fs.openSync(file, fs.constants.O_CREAT | fs.constants.O_RDONLY, 0o444));
    args.push(`${flag}=${file}`);
  }
  if (args.length === 1) return files;
  try {
    await run([...args, 'true']);
  } catch (e) {
    releaseNamespaces(files);
    throw e;
  }
  return files;
}

/** Unmount and delete the pinned files (idempotent). */
export function releaseNamespaces(files: Partial<PinnedNamespaces>): void {
  for (const f of [files.net, files.ipc]) if (f) removeNetns(f);
}
