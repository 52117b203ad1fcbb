import type { Sys } from '@gantry/linux';
import type { ExecBootstrap } from '../process/messages';

/**
 * A warm exec stage's fds, received over its fd socket in the order ExecBootstrap.handover names:
 * stdio becomes fds 0-2 (inherited by the program, as a cold stage's stdio is), the others replace
 * the bootstrap's placeholders. The socket is closed; the result is a cold stage's bootstrap.
 */
export function receiveHandover(sys: Sys, b: ExecBootstrap): ExecBootstrap {
  if (!b.handover) return b;
  const socket = b.handover.socketFd;
  const next = () => sys.recvFd(socket).fd;
  for (let i = 0; i < 3; i++) {
    const fd = next();
    sys.dup2(fd, i);
    sys.close(fd);
  }
  const namespaceFds = b.namespaceFds.map((n) => ({ type: n.type, fd: next() }));
  const consoleSocketFd = b.consoleSocketFd === undefined ? undefined : next();
  const seccompAgent = b.seccompAgent && { ...b.seccompAgent, fd: next() };
  sys.close(socket);
  const { handover: _, ...rest } = b;
  return { ...rest, namespaceFds, consoleSocketFd, seccompAgent };
}
