/**
 * A pod's shared namespaces, pinned: a short-lived `unshare --net=<file> --ipc=<file> ip link set lo up`
 * (util-linux) bind-mounts the new namespaces on files, and containers join them by path. No
 * pause process: nothing runs in a pod that is not one of its containers, and a pod costs one
 * process start instead of a container start (see the README's CRI section).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errdefs } from '@gantry/linux';
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
    // the command runs inside the new namespaces: a pod's loopback is up, as CNI's loopback plugin would leave it
    await run([...args, ...(files.net ? ['ip', 'link', 'set', 'lo', 'up'] : ['true'])]);
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

/**
 * A pod-shared PID namespace needs a process in it for as long as the pod lives (a PID namespace
 * whose init is gone takes no new processes): `unshare --pid --fork sleep infinity`, detached, its
 * child being the namespace's pid 1. Returns that child's pid; containers join /proc/<pid>/ns/pid.
 * Only pods whose containers ask for NamespaceMode POD for pid get one.
 */
export async function startPidHolder(): Promise<number> {
  const child = spawn('unshare', ['--pid', '--fork', '--kill-child', 'sleep', 'infinity'], { detached: true, stdio: 'ignore' });
  child.unref();
  const parent = child.pid;
  if (parent === undefined) throw errdefs.internal('could not start the pod PID namespace holder');
  for (let i = 0; i < 200; i++) {
    let kids: string;
    try {
      kids = fs.readFileSync(`/proc/${parent}/task/${parent}/children`, 'utf8').trim();
    } catch {
      throw errdefs.internal('the pod PID namespace holder exited at start');
    }
    if (kids) return Number(kids.split(/\s+/)[0]);
    await new Promise((r) => setTimeout(r, 10));
  }
  process.kill(parent, 'SIGKILL');
  throw errdefs.internal('the pod PID namespace holder did not start within 2 s');
}

/** Whether `pid` is still a holder (a restart may find its pid reused by something else). */
export function isPidHolder(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim() === 'sleep infinity';
  } catch {
    return false;
  }
}

/** SIGKILL to the namespace's init ends every process in the pod's PID namespace. */
export function stopPidHolder(pid: number): void {
  if (pid > 0 && isPidHolder(pid)) process.kill(pid, 'SIGKILL');
}
