import type { CompiledSeccomp, SeccompFilter } from '@gantry/linux';
import type { Process, Spec } from '../spec/types';
import type { HostCgroupMount } from '../init/rootfs';

/** SCMP_ACT_NOTIFY: where the stage sends the filter's listener fd, and the message that goes with it. */
export interface SeccompAgentHandoff {
  /** The parent's connection to the seccomp agent, as an fd of the stage. */
  fd: number;
  /** runtime-spec ContainerProcessState JSON. */
  state: string;
}

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
  /** The filter compiled by the parent (see ExecBootstrap.seccompCompiled), set instead of `seccomp`. */
  seccompCompiled?: CompiledSeccomp;
  seccompAgent?: SeccompAgentHandoff;
  /** True when the parent has prestart/createRuntime hooks to run once namespaces exist. */
  runtimeHooks: boolean;
  /**
   * The stage was started inside the container's user namespace (see userns.ts): the parent set
   * its oom_score_adj (lowering it needs the host's CAP_SYS_RESOURCE).
   */
  userNamespace?: boolean;
  /**
   * Bind mounts' sources as detached mounts made by the parent (`openTreeClone`), by index in
   * spec.mounts: inside a user namespace the stage may lack the host permissions to reach the
   * source, and could not bind a mount of another mount namespace anyway.
   */
  mountSources?: { index: number; fd: number }[];
  /**
   * A warm init stage (process/warm-init.ts), started before the container was known with
   * /dev/null as stdio: stdin, stdout, stderr, the console socket and the seccomp agent come over
   * the socket `socketFd` in this order, as ExecBootstrap.handover's do.
   */
  handover?: { socketFd: number };
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
  /** The filter to compile and load (where the parent could not compile it: not x86_64). */
  seccomp?: SeccompFilter;
  /**
   * The filter (with the clone3 fallback, see spawn-seccomp.ts) compiled by the parent, which is
   * warm and compiles a container's profile once: compiling Docker's profile cold in the stage
   * took ~20 ms of each exec. Set instead of `seccomp`.
   */
  seccompCompiled?: CompiledSeccomp;
  seccompAgent?: SeccompAgentHandoff;
  /** As InitBootstrap.userNamespace. */
  userNamespace?: boolean;
  /**
   * A warm stage (process/warm-stages.ts), started before the exec with /dev/null as stdio: the
   * fds come over the socket `socketFd` (one SCM_RIGHTS message each) in this order: stdin,
   * stdout, stderr, `namespaceFds`, the console socket, the seccomp agent. The fd numbers this
   * message names for those are then placeholders, replaced by the received ones.
   */
  handover?: { socketFd: number };
}

export type ParentMessage = InitBootstrap | ExecBootstrap | { mode: 'continue' };

export type StageMessage =
  | { type: 'hooks' }
  /**
   * First message of every stage, once Node has loaded it: its pid as the host's procfs names it
   * (a stage forked into a user namespace's new pid namespace is not the runtime's child, so this
   * is how the runtime learns it). The runtime puts the stage in the container's cgroup only then:
   * Node's own start-up (heap, code, the koffi addon: 8-12 MB) is not the container's to pay, and
   * charged to it, it made `docker run -m 8m` die before its program ran (runc's Go init is
   * charged, but is a fraction of that).
   */
  | { type: 'booted'; pid: number }
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
