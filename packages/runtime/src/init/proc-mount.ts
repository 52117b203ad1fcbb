/**
 * What may be mounted over /proc, and the check that /proc and /sys are the kernel's own
 * filesystems before anything relies on them (runc's checkProcMount and its fixes for
 * CVE-2019-16884 and CVE-2019-19921). A fake /proc (a bind of a host directory from an image's
 * `VOLUME /proc`, or a procfs mounted elsewhere through a symlink) would leave the real files
 * unmasked, and would let /proc/self/fd, which every later mount goes through, point anywhere.
 */
import * as path from 'node:path';
import { FS_MAGIC, openInRoot, O, type MountRoot, type Sys } from '@gantry/linux';
import { InitError } from '../errors';

/**
 * The only places inside /proc a mount may go: files lxcfs emulates (runc allows the same list).
 * Anything else inside /proc could hide or replace what masked and read-only paths protect.
 */
const PROC_MOUNT_ALLOWED: readonly string[] = [
  '/proc/cpuinfo',
  '/proc/diskstats',
  '/proc/meminfo',
  '/proc/stat',
  '/proc/swaps',
  '/proc/uptime',
  '/proc/loadavg',
  '/proc/slabinfo',
  '/proc/sys/kernel/ns_last_pid',
  '/proc/sys/crypto/fips_enabled',
];

export interface ProcMountSubject {
  /** The destination as the config names it (for the message). */
  destination: string;
  type: string;
  source: string;
  bind: boolean;
}

/**
 * Refuse a mount whose resolved destination (`hostPath`, inside `rootPath`) is /proc and whose
 * source is not a procfs, or is inside /proc and not one of PROC_MOUNT_ALLOWED. Call it with
 * the path the target resolved to, so a destination reaching /proc through a symlink is caught.
 */
export function checkProcMount(sys: Pick<Sys, 'statfs'>, rootPath: string, hostPath: string, m: ProcMountSubject): void {
  const rel = path.relative(rootPath, hostPath);
  const inContainer = `/${rel}`;
  if (inContainer !== '/proc' && !inContainer.startsWith('/proc/')) return;
  const via = m.destination === inContainer ? '' : ` (destination ${m.destination} resolves to ${inContainer})`;
  if (inContainer === '/proc') {
    if (m.bind ? sys.statfs(m.source).type === FS_MAGIC.PROC : m.type === 'proc') return;
    throw new InitError(
      `refusing to mount ${m.bind ? `a bind of ${m.source}` : `${m.type} from ${m.source}`} over /proc${via}: only procfs may be mounted on /proc`,
    );
  }
  if (PROC_MOUNT_ALLOWED.includes(inContainer)) return;
  throw new InitError(`refusing to mount ${m.source} on ${inContainer}${via}: mounts inside /proc are limited to ${PROC_MOUNT_ALLOWED.join(', ')}`);
}

const NAMES: Readonly<Record<number, string>> = { [FS_MAGIC.PROC]: 'procfs', [FS_MAGIC.SYSFS]: 'sysfs' };

/** Throw unless the fd is on the filesystem `magic` (fstatfs, so no path can be swapped in between). */
export function requireFilesystem(sys: Pick<Sys, 'fstatfs'>, fd: number, magic: number, what: string): void {
  const type = sys.fstatfs(fd).type;
  if (type !== magic) throw new InitError(`${what} is not ${NAMES[magic] ?? `filesystem 0x${magic.toString(16)}`} (f_type 0x${type.toString(16)})`);
}

/** Throw unless `dir` in the root is a directory (not a symlink) on the filesystem `magic`. */
export function requireMountedFilesystem(sys: Sys, root: MountRoot, dir: string, magic: number): void {
  let fd: number;
  try {
    fd = openInRoot(sys, root.fd, dir, O.PATH | O.DIRECTORY, { followLast: false });
  } catch (e) {
    throw new InitError(`${dir} in the container cannot be opened as a directory (${(e as Error).message}): ${NAMES[magic]} must be mounted there`);
  }
  try {
    requireFilesystem(sys, fd, magic, `${dir} in the container`);
  } finally {
    sys.close(fd);
  }
}
