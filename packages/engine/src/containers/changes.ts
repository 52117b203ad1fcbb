/**
 * `docker diff`: what a container changed, read from its overlay upper dir against the image's
 * lower dirs, with Docker's kinds (0 modified, 1 added, 2 deleted) and Docker's rules: a 0:0
 * character device is a deletion, an opaque directory hides everything the image had below it,
 * a directory present below with the same size, mode and mtime is not reported unless something
 * in it changed, and the parent of an added or deleted entry is reported as modified.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { linuxSys, type Sys } from '@gantry/linux';

export enum ChangeKind {
  Modified = 0,
  Added = 1,
  Deleted = 2,
}

export interface Change {
  Path: string;
  Kind: ChangeKind;
}

function lstat(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch {
    return undefined;
  }
}

const isWhiteout = (st: fs.Stats) => st.isCharacterDevice() && st.rdev === 0;
const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

function isOpaque(sys: Sys, p: string): boolean {
  for (const name of ['trusted.overlay.opaque', 'user.overlay.opaque']) {
    try {
      if (sys.lgetxattr(p, name)?.toString() === 'y') return true;
    } catch {
      // no xattr support: not opaque
    }
  }
  return false;
}

/** The entry the image has at `rel` (topmost lower wins; a whiteout there means none). */
function inLowers(lowers: readonly string[], rel: string): fs.Stats | undefined {
  for (const l of lowers) {
    const st = lstat(path.join(l, rel));
    if (!st) continue;
    return isWhiteout(st) ? undefined : st;
  }
  return undefined;
}

/** Names the image has in directory `rel`, merged over all lowers (whiteouts removed). */
function lowerNames(lowers: readonly string[], rel: string): string[] {
  const names = new Set<string>();
  const hidden = new Set<string>();
  for (const l of lowers) {
    let entries: string[];
    try {
      entries = fs.readdirSync(path.join(l, rel));
    } catch {
      continue;
    }
    for (const n of entries) {
      if (names.has(n) || hidden.has(n)) continue;
      const st = lstat(path.join(l, rel, n));
      if (st && isWhiteout(st)) hidden.add(n);
      else names.add(n);
    }
  }
  return [...names].sort(byteOrder);
}

export function overlayChanges(upper: string, lowers: readonly string[], sys: Sys = linuxSys()): Change[] {
  const out: Change[] = [];
  const changedDirs = new Set<string>();
  const record = (p: string, kind: ChangeKind) => {
    if (kind !== ChangeKind.Modified) {
      const parent = path.posix.dirname(p);
      if (parent !== '/' && !changedDirs.has(parent)) {
        out.push({ Path: parent, Kind: ChangeKind.Modified });
        changedDirs.add(parent);
      }
    }
    out.push({ Path: p, Kind: kind });
  };
  const walk = (rel: string) => {
    const dir = path.join(upper, rel);
    const names = fs.readdirSync(dir).sort(byteOrder);
    for (const name of names) {
      const p = `${rel}/${name}`;
      const st = lstat(path.join(dir, name));
      if (!st) continue;
      if (isWhiteout(st)) {
        if (inLowers(lowers, p)) record(p, ChangeKind.Deleted);
        continue;
      }
      const below = inLowers(lowers, p);
      const sameDir = below?.isDirectory() && st.isDirectory() && below.size === st.size && below.mode === st.mode && below.mtimeMs === st.mtimeMs;
      // an unchanged directory is not recorded, so a change below it still reports it (as dockerd)
      if (!below || !sameDir) {
        record(p, below ? ChangeKind.Modified : ChangeKind.Added);
        if (st.isDirectory()) changedDirs.add(p);
      }
      if (!st.isDirectory()) continue;
      if (below?.isDirectory() && isOpaque(sys, path.join(dir, name))) {
        const kept = new Set(fs.readdirSync(path.join(dir, name)));
        for (const gone of lowerNames(lowers, p)) if (!kept.has(gone)) record(`${p}/${gone}`, ChangeKind.Deleted);
      }
      walk(p);
    }
  };
  walk('');
  return out;
}
