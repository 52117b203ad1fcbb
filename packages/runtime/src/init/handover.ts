import type { Sys } from '@gantry/linux';
import type { ExecBootstrap, InitBootstrap } from '../process/messages';

/** The next fd over a warm stage's fd socket. */
function receiver(sys: Sys, socket: number): () => number {
  return () => sys.recvFd(socket).fd;
}

/** The first three fds received become our stdio, as a cold stage's inherited stdio is. */
function receiveStdio(sys: Sys, next: () => number): void {
  for (let i = 0; i < 3; i++) {
    const fd = next();
    sys.dup2(fd, i);
    sys.close(fd);
  }
}

/**
 * A warm exec stage's fds, received over its fd socket in the order ExecBootstrap.handover names:
 * stdio becomes fds 0-2 (inherited by the program, as a cold stage's stdio is), the others replace
 * the bootstrap's placeholders. The socket is closed; the result is a cold stage's bootstrap.
 */
export function receiveHandover(sys: Sys, b: ExecBootstrap): ExecBootstrap {
  if (!b.handover) return b;
  const socket = b.handover.socketFd;
  const next = receiver(sys, socket);
  receiveStdio(sys, next);
  const namespaceFds = b.namespaceFds.map((n) => ({ type: n.type, fd: next() }));
  const consoleSocketFd = b.consoleSocketFd === undefined ? undefined : next();
  const seccompAgent = b.seccompAgent && { ...b.seccompAgent, fd: next() };
  sys.close(socket);
  const { handover: _, ...rest } = b;
  return { ...rest, namespaceFds, consoleSocketFd, seccompAgent };
}

/** The same for a warm init stage (process/warm-init.ts): stdio, the console socket, the seccomp agent. */
export function receiveInitHandover(sys: Sys, b: InitBootstrap): InitBootstrap {
  if (!b.handover) return b;
  const socket = b.handover.socketFd;
  const next = receiver(sys, socket);
  receiveStdio(sys, next);
  const consoleSocketFd = b.consoleSocketFd === undefined ? undefined : next();
  const seccompAgent = b.seccompAgent && { ...b.seccompAgent, fd: next() };
  sys.close(socket);
  const { handover: _, ...rest } = b;
  return { ...rest, consoleSocketFd, seccompAgent };
}
