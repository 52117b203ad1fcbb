import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { linuxSys, openRoot, readFileInRoot, type Sys, mountAll, unmountAll } from '@gantry/linux';
import type { types } from '@gantry/api';
import type { Containerd } from '../containerd/client';
import type { ResolvedUser } from './spec';

interface Passwd {
  name: string;
  uid: number;
  gid: number;
}

interface Group {
  name: string;
  gid: number;
  members: string[];
}

function parsePasswd(text: string): Passwd[] {
  return text.split('\n').flatMap((l) => {
    const f = l.split(':');
    return f.length >= 4 && /^\d+$/.test(f[2]!) && /^\d+$/.test(f[3]!) ? [{ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]) }] : [];
  });
}

function parseGroup(text: string): Group[] {
  return text.split('\n').flatMap((l) => {
    const f = l.split(':');
    return f.length >= 3 && /^\d+$/.test(f[2]!) ? [{ name: f[0]!, gid: Number(f[2]), members: (f[3] ?? '').split(',').filter(Boolean) }] : [];
  });
}

/** Resolve Docker's user spec ("name", "uid", "name:group", "uid:gid") against passwd/group text. */
export function resolveUserSpec(spec: string, passwd: string, group: string): ResolvedUser {
  const [u, g] = spec.split(':') as [string, string | undefined];
  const users = parsePasswd(passwd);
  const groups = parseGroup(group);
  let uid: number;
  let gid: number;
  let name: string | undefined;
  if (/^\d+$/.test(u)) {
    uid = Number(u);
    const entry = users.find((x) => x.uid === uid);
    gid = entry?.gid ?? 0;
    name = entry?.name;
  } else {
    const entry = users.find((x) => x.name === u);
    if (!entry) throw new Error(`unable to find user ${u}: no matching entries in passwd file`);
    uid = entry.uid;
    gid = entry.gid;
    name = entry.name;
  }
  if (g !== undefined && g !== '') {
    if (/^\d+$/.test(g)) gid = Number(g);
    else {
      const entry = groups.find((x) => x.name === g);
      if (!entry) throw new Error(`unable to find group ${g}: no matching entries in group file`);
      gid = entry.gid;
    }
  }
  const additionalGids = name ? groups.filter((x) => x.members.includes(name!) && x.gid !== gid).map((x) => x.gid) : [];
  return { uid, gid, additionalGids };
}

/** An image's or container's user database, as text ("" for a file that is not there). */
export interface UserDb {
  passwd: string;
  group: string;
}

/**
 * /etc/passwd and /etc/group of the root open as `rootFd`, opened inside it: a link such as
 * `/etc/passwd -> /etc/shadow-of-the-host` is followed within the root only, and anything but a
 * regular file of a sane size (a FIFO, /dev/zero) is refused.
 */
export function readUserDb(sys: Sys, rootFd: number): UserDb {
  const read = (f: string) => readFileInRoot(sys, rootFd, f, 4 << 20)?.toString('utf8') ?? '';
  return { passwd: read('/etc/passwd'), group: read('/etc/group') };
}

/**
 * A resolver reading the image's /etc/passwd and /etc/group: only when a name must be looked up,
 * by mounting the container's snapshot read-only for a moment.
 */
export async function userResolver(_cd: Containerd, mounts: types.Mount[], dataRoot: string): Promise<(user: string) => ResolvedUser> {
  let cached: UserDb | undefined;
  const read = () => {
    if (cached) return cached;
    const sys = linuxSys();
    const dir = fs.mkdtempSync(path.join(fs.existsSync(dataRoot) ? dataRoot : os.tmpdir(), '.userns-'));
    let points: string[] = [];
    try {
      // read-only as containerd's diff service mounts (a bind gets its read-only remount)
      points = mountAll(sys, mounts, dir, true);
      const rootFd = openRoot(sys, dir);
      try {
        cached = readUserDb(sys, rootFd);
      } finally {
        sys.close(rootFd);
      }
      return cached;
    } finally {
      unmountAll(sys, points);
      try {
        fs.rmdirSync(dir); // rmdir only: never into a mount that might still be there
      } catch {
        // still mounted (busy)
      }
    }
  };
  return (user: string) => {
    if (user === '') return { uid: 0, gid: 0, additionalGids: [] };
    if (/^\d+(:\d+)?$/.test(user) && !user.includes(':')) {
      // a bare uid still takes its primary group from passwd when there is one
      const { passwd, group } = read();
      return resolveUserSpec(user, passwd, group);
    }
    if (/^\d+:\d+$/.test(user)) {
      const [u, g] = user.split(':');
      return { uid: Number(u), gid: Number(g), additionalGids: [] };
    }
    const { passwd, group } = read();
    return resolveUserSpec(user, passwd, group);
  };
}
