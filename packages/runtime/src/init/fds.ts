import { SysError, type Sys } from '@gantry/linux';
import { InitError } from '../errors';

/**
 * fd hygiene of the stages (the CVE-2024-21626 class). A host directory fd left open when the
 * container's cwd is entered, or when its program is exec'd, lets `process.cwd` or `args[0]` of
 * the form /proc/self/fd/N/../.. reach the host's filesystem, because close-on-exec fds are still
 * open until execve. So the stages close every fd that names a file or directory they were not
 * asked to keep, before chdir(cwd), and mark all the others close-on-exec.
 */

/**
 * Close every fd from 3 up that names a path (a file or a directory) and is not in `keep`. Node's
 * own fds (epoll, eventfd, pipes, the sync socket) are anonymous and stay: they cannot be walked
 * through (chdir gives ENOTDIR, execve EACCES) and are close-on-exec. Returns the closed fds.
 * Needs /proc/self to be this process (the init stage; the exec stage before it joins the
 * container's mount namespace).
 */
export function closeStrayFds(sys: Sys, keep: ReadonlySet<number>): number[] {
  const closed: number[] = [];
  for (const fd of sys.listFds()) {
    if (fd < 3 || keep.has(fd)) continue;
    let target: string;
    try {
      target = sys.readlink(`/proc/self/fd/${fd}`);
    } catch {
      continue; // the fd that listed /proc/self/fd, closed by now
    }
    if (!target.startsWith('/')) continue;
    sys.close(fd);
    closed.push(fd);
  }
  return closed;
}

/**
 * stdio and the `--preserve-fds` ones go to the program; every other fd is marked close-on-exec
 * (close_range, so it needs no /proc).
 */
export function markExecFds(sys: Sys, preserveFds: number): void {
  const keep = 3 + preserveFds;
  sys.closeFrom(keep, true);
  for (let fd = 0; fd < keep; fd++) {
    try {
      sys.setCloexec(fd, false);
    } catch (e) {
      // a preserved fd the caller did not open: nothing to pass on
      if (!(e instanceof SysError) || e.code !== 'EBADF') throw e;
    }
  }
}

/**
 * After chdir(cwd): the kernel's getcwd says whether the cwd is inside this thread's root. A cwd
 * reached through an fd of the host (/proc/self/fd/N, a symlink to it) is not, and getcwd answers
 * "(unreachable)/..." or ENOENT; refuse to go on, as runc does since 1.1.12.
 */
export function verifyCwd(sys: Sys, cwd: string): void {
  let real: string;
  try {
    real = sys.getcwd();
  } catch (e) {
    if (e instanceof SysError && e.code === 'ENOENT') throw outside(cwd);
    throw new InitError(`cannot check the working directory ${cwd}: ${(e as Error).message}`);
  }
  if (!real.startsWith('/')) throw outside(cwd);
}

function outside(cwd: string): InitError {
  return new InitError(`working directory ${cwd} is outside the container's root (possible container breakout); refusing to start the process`);
}
