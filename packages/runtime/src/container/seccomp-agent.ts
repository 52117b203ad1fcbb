import type { Sys } from '@gantry/linux';
import { InitError } from '../errors';
import type { Seccomp } from '../spec/types';

/**
 * The seccomp agent of runtime-spec's `linux.seccomp.listenerPath`: a unix socket to which the
 * runtime sends the filter's listener fd (SCM_RIGHTS) with a ContainerProcessState JSON. The
 * runtime connects before the container starts (the path is on the host), and the stage that
 * loads the filter sends the fd through that connection.
 */
export function connectSeccompAgent(sys: Sys, seccomp: Seccomp): number {
  const listenerPath = seccomp.listenerPath ?? '';
  try {
    return sys.connectUnix(listenerPath);
  } catch (e) {
    throw new InitError(`failed to connect with seccomp agent specified in the seccomp profile ${listenerPath}: ${(e as Error).message}`);
  }
}

export interface AgentStateInput {
  ociVersion: string;
  id: string;
  /** The container's init (for create: the stage that becomes it). */
  pid: number;
  bundle: string;
  status: 'creating' | 'created' | 'running';
  annotations?: Record<string, string>;
  metadata?: string;
}

/** The message that goes with the listener fd (runtime-spec ContainerProcessState; the fd is "seccompFd"). */
export function seccompAgentState(s: AgentStateInput): string {
  const state = { ociVersion: s.ociVersion, id: s.id, status: s.status, pid: s.pid, bundle: s.bundle, annotations: s.annotations ?? {} };
  return JSON.stringify({ ociVersion: s.ociVersion, fds: ['seccompFd'], pid: s.pid, ...(s.metadata ? { metadata: s.metadata } : {}), state });
}
