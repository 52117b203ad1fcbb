/**
 * Making one mount from its request: the steps `mountSteps` plans, the locked-flag retry of a
 * bind remount, and the recursive attributes. Where the calls go is the caller's: a plain path
 * (a directory Gantry made itself) or, for anything inside a container's root, the
 * /proc/self/fd/N paths that `mountInRoot` hands in.
 */
import { AT, MS } from '../constants';
import { SysError } from '../errors';
import type { Sys } from '../sys';
import { mountSteps, requestOptions, statfsToMountFlags, withLockedFlags, type MountOptions, type MountRequest } from './options';

const AT_FDCWD = -100;

function isPermissionError(e: unknown): boolean {
  return e instanceof SysError && (e.code === 'EPERM' || e.code === 'EACCES');
}

export interface MountTargets {
  /** Where the first mount(2) call goes. */
  first: string;
  /**
   * Where the later calls (bind remount, propagation, recursive attributes) go, asked once after
   * the first call: a path that names the new mount, not what it covers.
   */
  after?: () => string;
  /** Told right after the first call succeeded: a caller in the host's namespace can then undo a half-made mount. */
  onFirst?: () => void;
}

/** `moveMountFd` only for requests with a detached source. */
export type MountSeam = Pick<Sys, 'mount' | 'statfs' | 'mountSetattr'> & Partial<Pick<Sys, 'moveMountFd'>>;

/** Mount `m` on `target`, with every step its options need. */
export function applyMount(sys: MountSeam, m: MountRequest, target: string | MountTargets, o: MountOptions = requestOptions(m)): void {
  const targets = typeof target === 'string' ? { first: target } : target;
  let later: string | undefined;
  const laterTarget = () => (later ??= targets.after ? targets.after() : targets.first);
  for (const step of mountSteps(m, o)) {
    if (step.kind === 'mount') {
      if (m.detached !== undefined && o.bind) {
        if (!sys.moveMountFd) throw new Error('applyMount: a detached source needs moveMountFd');
        sys.moveMountFd(m.detached, targets.first);
      } else sys.mount(step.source, targets.first, step.fstype, step.flags, step.data);
      targets.onFirst?.();
      continue;
    }
    const at = laterTarget();
    if (step.kind === 'propagation') {
      sys.mount(null, at, null, step.flags, null);
      continue;
    }
    try {
      sys.mount(null, at, null, step.flags, null);
    } catch (e) {
      // In a user namespace (or from a nosuid/nodev/noexec source) the kernel locks the source's
      // flags: a remount that would drop one is refused. Retry keeping them, as runc does.
      if (!isPermissionError(e) || !m.source) throw e;
      const flags = withLockedFlags(step, o.cleared, statfsToMountFlags(sys.statfs(m.detached !== undefined ? `/proc/self/fd/${m.detached}` : m.source).flags));
      if (flags === step.flags) throw e;
      sys.mount(null, at, null, flags, null);
    }
  }
  if (o.recursive) sys.mountSetattr(AT_FDCWD, laterTarget(), AT.RECURSIVE, o.recursive.set, o.recursive.clear);
}

/**
 * Make an existing mount read-only (and `extra` flags) with MS_REMOUNT|MS_BIND, keeping the flags
 * the kernel locked on it (statfs of `at`), so it works for mounts inherited from the host too.
 */
export function remountReadonly(sys: Pick<Sys, 'mount' | 'statfs'>, at: string, extra = 0): void {
  const want = MS.RDONLY | MS.BIND | MS.REMOUNT | extra;
  try {
    sys.mount(null, at, null, want, null);
  } catch (e) {
    if (!isPermissionError(e)) throw e;
    const locked = withLockedFlags({ kind: 'bind-remount', source: null, fstype: null, flags: want, data: null }, 0, statfsToMountFlags(sys.statfs(at).flags));
    if (locked === want) throw e;
    sys.mount(null, at, null, locked, null);
  }
}
