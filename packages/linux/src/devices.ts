/**
 * Host device nodes as an OCI spec lists them (linux.devices): what `--device`, `--privileged` and
 * per-device blkio limits need to know about a host path. Plain stat calls through Node: nothing
 * here runs inside a container, so this is not part of the syscall seam.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface HostDevice {
  /** The path the node has (on the host, or in the container once mapped). */
  path: string;
  type: 'c' | 'b';
  major: number;
  minor: number;
  /** Permission bits only (st_mode without the file type). */
  fileMode: number;
  uid: number;
  gid: number;
}

/** The major number of a dev_t, glibc's encoding (12 bits, then the high bits above 32). */
export function deviceMajor(rdev: bigint): number {
  return Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & 0xfffff000n));
}

/** The minor number of a dev_t, glibc's encoding (8 bits, then bits 20-31). */
export function deviceMinor(rdev: bigint): number {
  return Number((rdev & 0xffn) | ((rdev >> 12n) & 0xffffff00n));
}

function fromStat(p: string, st: fs.BigIntStats): HostDevice | undefined {
  const type = st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : undefined;
  if (type === undefined) return undefined;
  return {
    path: p,
    type,
    major: deviceMajor(st.rdev),
    minor: deviceMinor(st.rdev),
    fileMode: Number(st.mode & 0o7777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
  };
}

/**
 * The device node at `p`, or undefined when `p` is something else; `follow` resolves a symlink
 * first (as `--device /dev/disk/by-id/...` needs). Throws the stat error (ENOENT, EACCES).
 */
export function hostDevice(p: string, follow = true): HostDevice | undefined {
  const st = follow ? fs.statSync(p, { bigint: true }) : fs.lstatSync(p, { bigint: true });
  return fromStat(p, st);
}

// What containerd's and runc's host-device walks leave out: pseudo-terminals, shared memory, fd
// links and message queues are the container's own, and /dev/console is set up by the runtime.
const SKIPPED_DIRS = new Set(['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev']);

/**
 * Every device node under `dir`, depth first in name order, symlinks not followed: what a
 * privileged container gets (`/dev`) or a `--device` that names a directory. Entries that vanish
 * or cannot be read while walking are skipped, as the walks of runc and containerd skip them.
 * `all` keeps what a walk of the host's /dev leaves out (for a directory `--device` names).
 */
export function hostDevicesUnder(dir: string, opts: { all?: boolean } = {}): HostDevice[] {
  const skip = opts.all ? new Set<string>() : SKIPPED_DIRS;
  const out: HostDevice[] = [];
  const walk = (d: string): void => {
    let names: string[];
    try {
      names = fs.readdirSync(d).sort();
    } catch {
      return;
    }
    for (const name of names) {
      const p = path.join(d, name);
      let st: fs.BigIntStats;
      try {
        st = fs.lstatSync(p, { bigint: true });
      } catch {
        continue;
      }
      if (st.isDirectory()) {
        if (!skip.has(name)) walk(p);
        continue;
      }
      if (name === 'console' && !opts.all) continue;
      const dev = fromStat(p, st);
      if (dev) out.push(dev);
    }
  };
  walk(dir);
  return out;
}

/** Why a host path gave no device node: `reason` in the words dockerd and containerd use. */
export class DeviceLookupError extends Error {
  constructor(
    readonly hostPath: string,
    readonly reason: string,
  ) {
    super(`${hostPath}: ${reason}`);
    this.name = 'DeviceLookupError';
  }
}

function errnoReason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file or directory';
  if (code === 'EACCES') return 'permission denied';
  return e instanceof Error ? e.message : String(e);
}

/** The major:minor of the node at `p` (symlinks followed). Throws DeviceLookupError as `devicesAt`. */
export function deviceNumbers(p: string): { major: number; minor: number } {
  let node: HostDevice | undefined;
  try {
    node = hostDevice(p);
  } catch (e) {
    throw new DeviceLookupError(p, errnoReason(e));
  }
  if (!node) throw new DeviceLookupError(p, 'not a device node');
  return { major: node.major, minor: node.minor };
}

/**
 * The nodes a device mapping's host path names, placed at `containerPath`: the node itself, or
 * every node under a directory (at the same place below `containerPath`). A symlink
 * (/dev/disk/by-id/...) names its target's node. Throws DeviceLookupError for a path that is
 * missing, unreadable, or holds no device node.
 */
export function devicesAt(hostPath: string, containerPath: string): HostDevice[] {
  let resolved: string;
  let st: fs.BigIntStats;
  try {
    resolved = fs.realpathSync(hostPath);
    st = fs.lstatSync(resolved, { bigint: true });
  } catch (e) {
    throw new DeviceLookupError(hostPath, errnoReason(e));
  }
  const node = fromStat(containerPath, st);
  if (node) return [node];
  if (st.isDirectory()) {
    const under = hostDevicesUnder(resolved, { all: true });
    if (under.length > 0) return under.map((d) => ({ ...d, path: containerPath + d.path.slice(resolved.length) }));
  }
  throw new DeviceLookupError(hostPath, 'not a device node');
}
