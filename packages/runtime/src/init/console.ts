import { O, TIOC, SysError, type Sys } from '@gantry/linux';

export interface ContainerConsole {
  /** The slave's path in the container (/dev/pts/N). */
  slavePath: string;
  /** The slave, opened with O_NOCTTY: nobody's controlling terminal yet. */
  slave: number;
}

/**
 * Create the container's terminal in its own devpts and hand the master to whoever listens on the
 * console socket (SCM_RIGHTS, as runc does). The slave stays open (a master whose slave was never
 * opened reads EIO, which a console reader takes for the end).
 */
export function createConsole(sys: Sys, socketFd: number, owner: { uid: number; gid: number }, size?: { height: number; width: number }): ContainerConsole {
  const master = sys.open('/dev/ptmx', O.RDWR | O.NOCTTY | O.CLOEXEC);
  sys.ptyUnlock(master);
  const slavePath = `/dev/pts/${sys.ptsNumber(master)}`;
  const slave = sys.open(slavePath, O.RDWR | O.NOCTTY | O.CLOEXEC);
  // Only the owner changes, as in runc: the group stays the one devpts gives (gid=5, "tty").
  sys.chown(slavePath, owner.uid, sys.stat(slavePath)?.gid ?? owner.gid);
  if (size) sys.setWinsize(master, size.height, size.width);
  sys.sendFd(socketFd, master, slavePath);
  sys.close(master);
  sys.close(socketFd);
  return { slavePath, slave };
}

/** createConsole, then make the slave our controlling terminal and stdio (the init stage execs itself). */
export function setupConsole(sys: Sys, socketFd: number, owner: { uid: number; gid: number }, size?: { height: number; width: number }): void {
  const { slave } = createConsole(sys, socketFd, owner, size);
  try {
    sys.setsid();
  } catch (e) {
    // already a session leader (spawned detached): that is what we need
    if (!(e instanceof SysError) || e.code !== 'EPERM') throw e;
  }
  for (const fd of [0, 1, 2]) sys.dup2(slave, fd);
  sys.ioctlInt(0, TIOC.SCTTY, 0);
  if (slave > 2) sys.close(slave);
}
