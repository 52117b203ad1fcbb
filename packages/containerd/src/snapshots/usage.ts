/** Disk usage of a directory tree as containerd counts it: distinct inodes, and their allocated blocks × 512 bytes. */
import { linuxSys, openRoot, type Sys } from '@gantry/linux';
import { openChild, nodeOf, type TreeNode } from '@gantry/linux';
import type { SnapshotUsage } from './types';

/** Read by fd (each entry opened O_NOFOLLOW below its directory): a snapshot in use cannot send the count onto the host. */
export function diskUsage(root: string, sys: Sys = linuxSys()): SnapshotUsage {
  const seen = new Set<string>();
  let size = 0;
  const walk = (n: TreeNode): void => {
    const id = `${n.st.dev}:${n.st.ino}`;
    if (!seen.has(id)) {
      seen.add(id);
      size += Number(n.st.blocks) * 512;
    }
    if (!n.st.isDirectory()) return;
    for (const name of sys.readdirFd(n.fd)) {
      const child = openChild(sys, n.fd, name);
      if (!child) continue;
      try {
        walk(child);
      } finally {
        sys.close(child.fd);
      }
    }
  };
  const fd = openRoot(sys, root);
  try {
    walk(nodeOf(fd));
  } finally {
    sys.close(fd);
  }
  return { size, inodes: seen.size };
}
