import type { SeccompFilter } from '@gantry/linux';
import type { Process, Spec } from '../spec/types';
import type { HostCgroupMount } from '../init/rootfs';

/** Everything the container's init stage needs, sent by the parent over the sync socket. */
export interface InitBootstrap {
  mode: 'init';
  id: string;
  bundle: string;
  rootfs: string;
  spec: Spec;
  stateDir: string;
  noPivot: boolean;
  preserveFds: number;
  consoleSocketFd?: number;
  cgroupPath: string;
  hostCgroups: HostCgroupMount[];
  lastCap: number;
  seccomp?: SeccompFilter;
  /** True when the parent has prestart/createRuntime hooks to run once namespaces exist. */
  runtimeHooks: boolean;
}

/**
 * What the exec stage needs to start one more process in a running container. The stage runs in
 * the host's pid namespace; it joins the others and starts the process with posix_spawn.
 */
export interface ExecBootstrap {
  mode: 'exec';
  id: string;
  process: Process;
  preserveFds: number;
  consoleSocketFd?: number;
  /** fds (in the stage) of the container's namespaces to join; "pid" places only the stage's children. */
  namespaceFds: { type: string; fd: number }[];
  lastCap: number;
  seccomp?: SeccompFilter;
}

export type ParentMessage = InitBootstrap | ExecBootstrap | { mode: 'continue' };

export type StageMessage =
  | { type: 'hooks' }
  | { type: 'ready'; pid: number }
  /** The exec stage started the process (its pid in the host's pid namespace) and exits now. */
  | { type: 'spawned'; pid: number }
  | { type: 'error'; message: string };

/** A synchronous message channel, as the stage sees it. */
export interface StageChannel {
  /** The socket's fd, which the stage keeps open (close-on-exec) until it execs or exits. */
  readonly fd: number;
  send(msg: StageMessage): void;
  receive(): ParentMessage;
}
