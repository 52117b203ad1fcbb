/** Disk usage of a directory tree as containerd counts it: distinct inodes, and their allocated blocks × 512 bytes. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SnapshotUsage } from './types';

export function diskUsage(root: string): SnapshotUsage {
  const seen = new Set<string>();
  let size = 0;
  const walk = (p: string): void => {
    const st = fs.lstatSync(p, { bigint: true });
    const id = `${st.dev}:${st.ino}`;
    if (!seen.has(id)) {
      seen.add(id);
      size += Number(st.blocks) * 512;
    }
    if (st.isDirectory()) for (const name of fs.readdirSync(p)) walk(path.join(p, name));
  };
  walk(root);
  return { size, inodes: seen.size };
}
