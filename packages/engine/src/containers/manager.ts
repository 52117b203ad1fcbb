import * as path from 'node:path';
import type { EngineContext } from '../context';
import type { JsonFileWriter } from '../logs/json-file';
import type { ContainerIO } from '../streams/fifo-stdio';
import type { ContainerMounts } from '../volumes/container-mounts';
import { create } from './create';
import { handleOom, handleTaskExit } from './exit';
import { HealthMonitor } from './health';
import { kill } from './kill';
import { pause, unpause } from './pause';
import type { ContainerRecord } from './record';
import { remove } from './remove';
import { rename } from './rename';
import { restart } from './restart';
import { reconcile, reconcileOne, restore } from './restore';
import { start, startTask } from './start';
import { taskSample, type ContainerSample } from './stats';
import { stop } from './stop';
import { closeStdin, resize } from './stdio';
import { top, type TopResult } from './top';
import { update } from './update';
import type { ContainerStore } from './store';
import { wait, type Waiter, type WaitResult } from './wait';

/**
 * Docker's container lifecycle over gantry-containerd: a container is a containerd container
 * (spec + overlayfs snapshot) plus, while it runs, a task whose stdio are FIFOs gantryd logs.
 * Exits and OOMs come from gantry-containerd's event stream (EventMonitor, which calls
 * handleTaskExit/handleOom and reconcile after a reconnect); restart policies and auto-remove act on them.
 *
 * This object holds what the verbs share (io, waiters, restart timers, ...); each verb is its own
 * module (create.ts, start.ts, stop.ts, ..., exit.ts for exits and the restart policy), as moby's
 * daemon/ is laid out. Its fields are read and written by those modules only.
 */
export class ContainerManager {
  readonly ios = new Map<string, ContainerIO>();
  /** The json-file writer of each running container's io (ContainerIO flushes it, never closes it). */
  readonly logWriters = new Map<string, JsonFileWriter>();
  readonly waiters = new Map<string, Waiter[]>();
  readonly restartTimers = new Map<string, NodeJS.Timeout>();
  /** The last automatic-restart delay per container (Docker's back-off). */
  readonly restartDelays = new Map<string, number>();
  /** Containers whose next exit must not restart them (docker stop/kill, rm -f). */
  readonly exitOnNext = new Set<string>();
  /** Automatic restarts under way: stop and rm wait for them rather than race them. */
  readonly autoStarts = new Map<string, Promise<void>>();
  /** Task creates/starts under way: an exit event that overtakes their reply waits for them. */
  readonly pendingStarts = new Map<string, Promise<void>>();
  /** Exits being handled, so an event and a reconcile do not settle the same exit twice. */
  readonly settling = new Set<string>();
  readonly exitListeners: ((id: string) => Promise<void>)[] = [];
  /** Told of a container's io as soon as it is opened, before its task starts (the builder streams RUN output). */
  readonly ioWatchers = new Map<string, (io: ContainerIO) => void>();
  /** Set by close(): nothing is retried or restarted any more. */
  closing = false;
  readonly health: HealthMonitor;

  constructor(
    readonly ctx: EngineContext,
    readonly store: ContainerStore,
    /** Volumes and bind mounts: planned at create, held while running, released at exit. */
    readonly mounts?: ContainerMounts,
  ) {
    this.health = new HealthMonitor(ctx, store);
  }

  get cd() {
    return this.ctx.cd;
  }

  fifoDir(id: string): string {
    return path.join(this.store.containerDir(id), 'fifos');
  }

  /** Called after a container's exit has been recorded (execs settle what died with it). */
  onContainerExit(fn: (id: string) => Promise<void>): void {
    this.exitListeners.push(fn);
  }

  io(id: string): ContainerIO | undefined {
    return this.ios.get(id);
  }

  // ---- the verbs (one module each) ----

  create(body: unknown, name: string | null): Promise<{ Id: string; Warnings: string[] }> {
    return create(this, body, name);
  }

  start(ref: string): Promise<void> {
    return start(this, ref);
  }

  stop(ref: string, timeoutSec?: number, signal?: string): Promise<void> {
    return stop(this, ref, timeoutSec, signal);
  }

  restart(ref: string, timeoutSec?: number, signal?: string): Promise<void> {
    return restart(this, ref, timeoutSec, signal);
  }

  kill(ref: string, signal?: string): Promise<void> {
    return kill(this, ref, signal);
  }

  pause(ref: string): Promise<void> {
    return pause(this, ref);
  }

  unpause(ref: string): Promise<void> {
    return unpause(this, ref);
  }

  /** POST /containers/{id}/wait: resolves with the exit code when `condition` is met. */
  wait(ref: string, condition: string = 'not-running'): Promise<WaitResult> {
    return wait(this, ref, condition);
  }

  remove(ref: string, opts: { force?: boolean; removeVolumes?: boolean }): Promise<void> {
    return remove(this, ref, opts);
  }

  rename(ref: string, newName: string): void {
    rename(this, ref, newName);
  }

  update(ref: string, body: unknown): Promise<{ Warnings: string[] }> {
    return update(this, ref, body);
  }

  top(ref: string, psArgs: string | null): Promise<TopResult> {
    return top(this, ref, psArgs);
  }

  resize(ref: string, height: number, width: number): Promise<void> {
    return resize(this, ref, height, width);
  }

  closeStdin(id: string): Promise<void> {
    return closeStdin(this, id);
  }

  sample(id: string): Promise<ContainerSample | undefined> {
    return taskSample(this.cd, id);
  }

  // ---- events and live restore (exit.ts, restore.ts) ----

  /** A /tasks/exit of a container's init process (from the event stream). */
  handleTaskExit(e: { containerId: string; pid: number; exitStatus: number; exitedAt: Date }): Promise<void> {
    return handleTaskExit(this, e);
  }

  handleOom(id: string): Promise<void> {
    return handleOom(this, id);
  }

  reconcile(): Promise<void> {
    return reconcile(this);
  }

  restore(): Promise<void> {
    return restore(this);
  }

  // ---- shared by verbs in different modules (called through here: the modules import no cycle) ----

  startTask(rec: ContainerRecord): Promise<void> {
    return startTask(this, rec);
  }

  reconcileOne(id: string): Promise<void> {
    return reconcileOne(this, id);
  }

  close(): void {
    this.closing = true;
    this.health.stopAll();
    for (const t of this.restartTimers.values()) clearTimeout(t);
    for (const io of this.ios.values()) void io.close(); // shutting down: not waiting for the shims' EOF
    this.ios.clear();
    for (const log of this.logWriters.values()) log.close();
    this.logWriters.clear();
  }
}
