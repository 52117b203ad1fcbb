import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { CLONE, O, type Sys } from '@gantry/linux';
import { InitError } from '../errors';
import { DEFAULT_ROOT } from '../state/store';
import { StageExecutable } from './exe-guard';
import { trampolineArgv } from './userns';
import type { ParentMessage, StageMessage } from './messages';
import { decodeMessage, encodeMessage } from './wire';

/** How the stage's pid namespace is chosen: the kernel only lets a parent place a child in one. */
export type PidNamespace = { kind: 'host' } | { kind: 'new' } | { kind: 'join'; path: string };

export interface SpawnStageOptions {
  preserveFds: number;
  /** fds of this process handed to the stage, after the sync socket, in this order. */
  extraFds: number[];
  pidNamespace: PidNamespace;
  /** Put the stage in its own session (init stages; exec stages with a terminal). */
  detached: boolean;
  /** The container's stdin/stdout/stderr; default: this process's own 0, 1, 2 (runc's behaviour). */
  stdio?: StdioFds;
  /** The node the stage runs, sealed against CVE-2019-5736; default this process's own node. */
  executable?: StageExecutable;
  /**
   * A user namespace (a /proc/<pid>/ns/user path) the stage starts in, through nsenter, which joins
   * it single-threaded and becomes root there before node runs (see userns.ts). With `newPid` the
   * stage is forked into a new pid namespace owned by it (`pidNamespace` must then be "host"), is
   * not our child: its pid is the one its first message (`booted`) names.
   */
  userNamespace?: { path: string; newPid: boolean };
}

/** fds (or 'ignore' for /dev/null) that become the container process's fds 0, 1 and 2. */
export type StdioFds = [number | 'ignore', number | 'ignore', number | 'ignore'];

export interface StageHandle {
  child: ChildProcess;
  pid: number;
  /** fd numbers the stage sees for `extraFds`. */
  childFds: number[];
  send(msg: ParentMessage): void;
  /** Next message, or undefined once the stage closed its end (execve or exit). */
  next(): Promise<StageMessage | undefined>;
  close(): void;
  /** Let this process exit while the stage waits (a warm stage), and undo that. */
  unref(): void;
  ref(): void;
}

/**
 * The stage's bundle (tools/bundle-runtime.mjs, dist/bundle/stage-main.js) when there is one, also
 * for the library (the shim) run from tsc's dist/: one file loads ~20 ms of CPU faster than the
 * modules it is made of. Without a bundle (ts-jest from src/), the stage beside this module.
 */
const STAGE_ENTRY = stageEntry();

function stageEntry(): string {
  const bundled = path.join(__dirname, '..', 'bundle', 'stage-main.js');
  return fs.existsSync(bundled) ? bundled : path.join(__dirname, 'stage-main.js');
}

/** This process's own node (the sealed handle itself is made once, see exe-guard). */
function ownNode(sys: Sys): StageExecutable {
  return new StageExecutable(sys, { node: process.execPath, bottomDir: DEFAULT_ROOT });
}

/** `fd` of this process if it is open, else /dev/null ('ignore'). */
export function inheritable(fd: number): number | 'ignore' {
  try {
    fs.fstatSync(fd);
    return fd;
  } catch {
    return 'ignore';
  }
}

/**
 * Run `fn` (which spawns) with this thread's pid_ns_for_children pointing at the container's pid
 * namespace, then point it back. Only children change namespace; this process never does.
 */
function withPidNamespace<T>(sys: Sys, ns: PidNamespace, fn: () => T): T {
  if (ns.kind === 'host') return fn();
  const saved = sys.open('/proc/self/ns/pid', O.RDONLY | O.CLOEXEC);
  try {
    if (ns.kind === 'new') sys.unshare(CLONE.NEWPID);
    else {
      const fd = sys.open(ns.path, O.RDONLY | O.CLOEXEC);
      try {
        sys.setns(fd, CLONE.NEWPID);
      } finally {
        sys.close(fd);
      }
    }
    return fn();
  } finally {
    sys.setns(saved, CLONE.NEWPID);
    sys.close(saved);
  }
}

export function spawnStage(sys: Sys, opts: SpawnStageOptions): StageHandle {
  const syncIndex = 3 + opts.preserveFds;
  const stdio: (number | 'ignore' | 'pipe')[] = opts.stdio ? [...opts.stdio] : [inheritable(0), inheritable(1), inheritable(2)];
  for (let i = 0; i < opts.preserveFds; i++) stdio.push(3 + i);
  stdio.push('pipe');
  stdio.push(...opts.extraFds);
  // Never the host's node file itself: the container could reach it through /proc/<pid>/exe.
  const exe = opts.executable ?? ownNode(sys);
  exe.sealed();
  const env = { _GANTRY_SYNC_FD: String(syncIndex), ...(process.env.GANTRY_TRACE ? { GANTRY_TRACE: process.env.GANTRY_TRACE } : {}) };
  const userNs = opts.userNamespace;
  const child = withPidNamespace(sys, opts.pidNamespace, () =>
    userNs === undefined
      ? exe.spawnWith(stdio.length, (file) => spawn(file, [STAGE_ENTRY], { argv0: exe.opts.node, stdio, detached: opts.detached, env }))
      : // nsenter execs the sealed node through its own copy of the handle (the last fd it gets);
        // the stage closes that copy first thing (_GANTRY_EXE_FD).
        exe.spawnInherited((sealedFd) => {
          const [tool, ...args] = trampolineArgv(userNs.path, userNs.newPid);
          return spawn(tool!, [...args, `/proc/self/fd/${stdio.length}`, STAGE_ENTRY], {
            stdio: [...stdio, sealedFd],
            detached: opts.detached,
            env: { ...env, _GANTRY_EXE_FD: String(stdio.length) },
          });
        }),
  );
  if (child.pid === undefined) throw new InitError('could not start the container init stage');
  const socket = child.stdio[syncIndex] as (Readable & Writable) | null;
  if (!socket) throw new InitError('init stage has no sync socket');

  const queue: (StageMessage | undefined)[] = [];
  const waiters: ((m: StageMessage | undefined) => void)[] = [];
  let buffered = '';
  let ended = false;
  const push = (m: StageMessage | undefined) => {
    const w = waiters.shift();
    if (w) w(m);
    else queue.push(m);
  };
  socket.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      try {
        push(decodeMessage<StageMessage>(line));
      } catch {
        push({ type: 'error', message: `garbled message from init stage: ${line.slice(0, 200)}` });
      }
    }
  });
  const end = () => {
    if (ended) return;
    ended = true;
    push(undefined);
  };
  socket.on('end', end);
  socket.on('close', end);
  socket.on('error', end);

  return {
    child,
    pid: child.pid,
    childFds: opts.extraFds.map((_, i) => syncIndex + 1 + i),
    send(msg: ParentMessage) {
      socket.write(`${encodeMessage(msg)}\n`);
    },
    next() {
      if (queue.length > 0) return Promise.resolve(queue.shift());
      if (ended) return Promise.resolve(undefined);
      return new Promise((resolve) => waiters.push(resolve));
    },
    close() {
      socket.destroy();
    },
    unref() {
      child.unref();
      (socket as Partial<Pick<Socket, 'unref'>>).unref?.();
    },
    ref() {
      child.ref();
      (socket as Partial<Pick<Socket, 'ref'>>).ref?.();
    },
  };
}

/** Waits for the stage's first message (`booted`, see messages.ts) and returns the pid it names. */
export async function stageBooted(stage: StageHandle, what: 'init' | 'exec'): Promise<number> {
  const first = await stage.next();
  if (first?.type === 'error') throw new InitError(first.message);
  if (first === undefined) throw new InitError(`container ${what} exited before it was ready`);
  if (first.type !== 'booted' || !Number.isInteger(first.pid) || first.pid <= 1) throw new InitError(`container ${what} stage did not start`);
  return first.pid;
}
