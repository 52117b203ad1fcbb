/**
 * User names of a container's image: /etc/passwd and /etc/group read inside the container's
 * rootfs (the snapshot mounted read-only for a moment, files opened within the root by fd, so a
 * link in the image cannot point at the host's files).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { types } from '@gantry/api';
import { errdefs, linuxSys, mountAll, openRoot, readFileInRoot, unmountAll } from '@gantry/linux';

export interface UserDb {
  passwd: string;
  group: string;
}

export function readUserDb(mounts: types.Mount[], tmpBase: string): UserDb {
  const sys = linuxSys();
  fs.mkdirSync(tmpBase, { recursive: true, mode: 0o700 });
  const dir = fs.mkdtempSync(path.join(tmpBase, 'users-'));
  let points: string[] = [];
  try {
    points = mountAll(sys, mounts, dir, true);
    const rootFd = openRoot(sys, dir);
    try {
      const read = (f: string) => readFileInRoot(sys, rootFd, f, 4 << 20)?.toString('utf8') ?? '';
      return { passwd: read('/etc/passwd'), group: read('/etc/group') };
    } finally {
      sys.close(rootFd);
    }
  } finally {
    unmountAll(sys, points);
    try {
      fs.rmdirSync(dir); // rmdir only: never into a mount that might still be there
    } catch {
      // still busy
    }
  }
}

const fields = (text: string) => text.split('\n').map((l) => l.split(':'));

/** uid and primary gid of a user name; INVALID_ARGUMENT when the image has no such user. */
export function lookupUser(db: UserDb, name: string): { uid: number; gid: number } {
  const f = fields(db.passwd).find((x) => x[0] === name && x.length >= 4 && /^\d+$/.test(x[2]!) && /^\d+$/.test(x[3]!));
  if (!f) throw errdefs.invalidArgument(`unable to find user ${name}: no matching entries in passwd file`);
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

/** The name and primary gid of the user with this uid, if the image's passwd has one. */
export function userByUid(db: UserDb, uid: number): { name: string; gid: number } | undefined {
  const f = fields(db.passwd).find((x) => x.length >= 4 && x[2] === String(uid) && /^\d+$/.test(x[3]!));
  return f ? { name: f[0]!, gid: Number(f[3]) } : undefined;
}

/** The gid of a group name. */
export function lookupGroup(db: UserDb, name: string): number {
  const f = fields(db.group).find((x) => x[0] === name && x.length >= 3 && /^\d+$/.test(x[2]!));
  if (!f) throw errdefs.invalidArgument(`unable to find group ${name}: no matching entries in group file`);
  return Number(f[2]);
}

/** The gids of the groups that list `name` as a member. */
export function memberGroups(db: UserDb, name: string): number[] {
  return fields(db.group)
    .filter((x) => x.length >= 4 && /^\d+$/.test(x[2]!) && (x[3] ?? '').split(',').includes(name))
    .map((x) => Number(x[2]));
}
