import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * `p` (absolute, container-side) resolved inside `root` the way the container would see it:
 * symlinks are followed but never lead out of `root` (`..` and absolute targets stay inside).
 */
export function resolveInRoot(root: string, p: string): string {
  const parts = p.split('/').filter((x) => x !== '' && x !== '.');
  const resolved: string[] = [];
  let links = 0;
  while (parts.length > 0) {
    const part = parts.shift()!;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const host = path.join(root, ...resolved, part);
    let st: fs.Stats | undefined;
    try {
      st = fs.lstatSync(host);
    } catch {
      st = undefined;
    }
    if (st?.isSymbolicLink()) {
      if (++links > 255) throw new Error(`too many levels of symbolic links: ${p}`);
      const target = fs.readlinkSync(host);
      if (target.startsWith('/')) resolved.length = 0;
      parts.unshift(...target.split('/').filter((x) => x !== '' && x !== '.'));
      continue;
    }
    resolved.push(part);
  }
  return path.join(root, ...resolved);
}

function copyMeta(src: fs.Stats, dst: string, link: boolean): void {
  if (link) {
    fs.lchownSync(dst, src.uid, src.gid);
    fs.lutimesSync(dst, src.atime, src.mtime);
    return;
  }
  fs.chownSync(dst, src.uid, src.gid);
  // after chown: chown clears setuid/setgid bits
  fs.chmodSync(dst, src.mode & 0o7777);
  fs.utimesSync(dst, src.atime, src.mtime);
}

/**
 * Copy the tree under `src` into the existing directory `dst`: directories, regular files (hard
 * links kept as links), symlinks (not followed) and their owners, modes and times. Device
 * nodes, FIFOs and sockets are skipped.
 */
export function copyTree(src: string, dst: string): void {
  const inodes = new Map<string, string>();
  const walk = (from: string, to: string) => {
    for (const name of fs.readdirSync(from)) {
      const s = path.join(from, name);
      const d = path.join(to, name);
      const st = fs.lstatSync(s);
      if (st.isDirectory()) {
        fs.mkdirSync(d);
        walk(s, d);
        copyMeta(st, d, false);
      } else if (st.isSymbolicLink()) {
        fs.symlinkSync(fs.readlinkSync(s), d);
        copyMeta(st, d, true);
      } else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1 ? inodes.get(key) : undefined;
        if (first) {
          fs.linkSync(first, d);
          continue;
        }
        fs.copyFileSync(s, d);
        copyMeta(st, d, false);
        if (st.nlink > 1) inodes.set(key, d);
      }
    }
  };
  walk(src, dst);
}

/**
 * Docker's copy-up: when the volume directory `volumeDir` is empty and the image has a directory
 * at `destination`, its content (and the directory's owner and mode) are copied into the volume.
 * Returns whether anything was copied.
 */
export function copyImageContent(rootfs: string, destination: string, volumeDir: string): boolean {
  const src = resolveInRoot(rootfs, destination);
  let st: fs.Stats;
  try {
    st = fs.lstatSync(src);
  } catch {
    return false;
  }
  if (!st.isDirectory()) return false;
  if (fs.readdirSync(volumeDir).length > 0) return false;
  copyTree(src, volumeDir);
  copyMeta(st, volumeDir, false);
  return true;
}
