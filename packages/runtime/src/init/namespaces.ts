import { CLONE, O, type Sys } from '@gantry/linux';
import { InitError } from '../errors';
import type { Namespace, NamespaceType } from '../spec/types';

const CLONE_FLAG: Record<NamespaceType, number> = {
  pid: CLONE.NEWPID,
  network: CLONE.NEWNET,
  mount: CLONE.NEWNS,
  ipc: CLONE.NEWIPC,
  uts: CLONE.NEWUTS,
  user: CLONE.NEWUSER,
  cgroup: CLONE.NEWCGROUP,
  time: CLONE.NEWTIME,
};

/** The /proc/<pid>/ns entry name of each namespace type. */
export const PROC_NS_NAME: Record<NamespaceType, string> = {
  pid: 'pid',
  network: 'net',
  mount: 'mnt',
  ipc: 'ipc',
  uts: 'uts',
  user: 'user',
  cgroup: 'cgroup',
  time: 'time',
};

/**
 * Enter the namespaces the init stage owns (all but pid, which its parent set up for it, and user,
 * which the stage was started in: see process/userns.ts; the ones made here are then owned by it). Joined
 * ones first, then one unshare for the new ones. The mount namespace needs CLONE_FS unshared first
 * because Node's other threads share our fs struct. The cgroup namespace is unshared last, after the
 * parent has put us in the container's cgroup, so its root is that cgroup.
 */
export function enterNamespaces(sys: Sys, namespaces: readonly Namespace[]): void {
  let fresh = 0;
  for (const ns of namespaces) {
    if (ns.type === 'pid' || ns.type === 'user') continue;
    if (ns.path) {
      const fd = sys.open(ns.path, O.RDONLY | O.CLOEXEC);
      try {
        if (ns.type === 'mount') sys.unshare(CLONE.FS);
        sys.setns(fd, CLONE_FLAG[ns.type]);
      } catch (e) {
        throw new InitError(`joining ${ns.type} namespace ${ns.path}: ${(e as Error).message}`);
      } finally {
        sys.close(fd);
      }
    } else if (ns.type !== 'cgroup') fresh |= CLONE_FLAG[ns.type];
  }
  if (fresh & CLONE.NEWNS) fresh |= CLONE.FS;
  if (fresh !== 0) sys.unshare(fresh);
  if (namespaces.some((n) => n.type === 'cgroup' && !n.path)) sys.unshare(CLONE.NEWCGROUP);
}

/** Join existing namespaces from fds (the exec stage), mount last since it changes our root. */
export function joinNamespaceFds(sys: Sys, fds: readonly { type: string; fd: number }[]): void {
  const ordered = [...fds.filter((f) => f.type !== 'mount'), ...fds.filter((f) => f.type === 'mount')];
  for (const { type, fd } of ordered) {
    if (type === 'mount') sys.unshare(CLONE.FS);
    sys.setns(fd, CLONE_FLAG[type as NamespaceType] ?? 0);
    sys.close(fd);
  }
}
