/**
 * /proc/<pid>/mountinfo (proc(5)), parsed once for all of Gantry. A line reads
 *   36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
 * and the kernel escapes space, tab, newline and backslash in paths as \040 \011 \012 \134.
 */
import * as fs from 'node:fs';

export interface MountInfo {
  id: number;
  parentId: number;
  major: number;
  minor: number;
  /** The path inside the filesystem that is the root of this mount ("/" for a whole filesystem). */
  root: string;
  mountPoint: string;
  /** Per-mount options ("rw", "nosuid", "relatime", ...). */
  options: string[];
  /** Optional fields: "shared:N", "master:N", "propagate_from:N", "unbindable". */
  optional: string[];
  fstype: string;
  source: string;
  /** Per-superblock options. */
  superOptions: string[];
}

/** Undo the kernel's octal escapes (\040 and the like). */
export function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** One mountinfo line, or undefined for a blank or malformed one. */
export function parseMountinfoLine(line: string): MountInfo | undefined {
  const fields = line.trim().split(' ');
  const sep = fields.indexOf('-', 6);
  if (fields.length < 10 || sep < 0 || fields.length < sep + 3) return undefined;
  const [id, parent, dev, root, mountPoint, options] = fields;
  const [major, minor] = dev!.split(':').map(Number);
  if (!Number.isInteger(Number(id)) || major === undefined || minor === undefined) return undefined;
  return {
    id: Number(id),
    parentId: Number(parent),
    major,
    minor,
    root: unescapeMountinfo(root!),
    mountPoint: unescapeMountinfo(mountPoint!),
    options: options!.split(','),
    optional: fields.slice(6, sep),
    fstype: unescapeMountinfo(fields[sep + 1]!),
    source: unescapeMountinfo(fields[sep + 2]!),
    superOptions: (fields[sep + 3] ?? '').split(',').filter((o) => o.length > 0),
  };
}

export function parseMountinfo(text: string): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of text.split('\n')) {
    const m = parseMountinfoLine(line);
    if (m) out.push(m);
  }
  return out;
}

/** The mount table of a process (default: this one); [] when it cannot be read. */
export function readMountinfo(pid: number | 'self' = 'self'): MountInfo[] {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/mountinfo`, 'utf8');
  } catch {
    return [];
  }
  return parseMountinfo(text);
}

/** Mount points at `dir` or below it, deepest first (the order to unmount them in). */
export function mountPointsUnder(mounts: readonly MountInfo[], dir: string): string[] {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  return mounts
    .map((m) => m.mountPoint)
    .filter((p) => p === dir || p.startsWith(prefix))
    .sort((a, b) => b.length - a.length);
}
