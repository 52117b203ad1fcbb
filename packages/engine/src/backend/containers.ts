/**
 * What the container routes (routes/containers.ts, container-files.ts, exec.ts, events.ts) call:
 * the daemon hands them the ContainerManager, ExecManager and ContainerStore behind these types.
 * Types only, as moby's api/server/router/container/backend.go.
 */
import type { ContainerCreateResponse, ExecInspectResponse, IdResponse } from '@gantry/engine-api';
import type { ContainerRecord } from '../containers/record';
import type { ExecRecord } from '../containers/exec';
import type { ContainerIO } from '../streams/fifo-stdio';
import type { WaitResult } from '../containers/wait';
import type { AccessMode } from '../containers/rootfs-access';
import type { ContainerSample } from '../containers/stats';

/** The containers' records, looked up as Docker resolves a reference (id, id prefix, name). */
export interface ContainerRecords {
  /** 404 when there is no such container. */
  get(ref: string): ContainerRecord;
  find(ref: string): ContainerRecord | undefined;
  all(): ContainerRecord[];
  /** Where the container's own files are (its /etc files, logs). */
  containerDir(id: string): string;
}

export interface ContainersBackend {
  readonly store: ContainerRecords;
  /** The container's live stdio while its task runs (attach). */
  io(id: string): ContainerIO | undefined;
  create(body: unknown, name: string | null): Promise<ContainerCreateResponse>;
  start(ref: string): Promise<void>;
  stop(ref: string, timeoutSec?: number, signal?: string): Promise<void>;
  restart(ref: string, timeoutSec?: number, signal?: string): Promise<void>;
  kill(ref: string, signal?: string): Promise<void>;
  pause(ref: string): Promise<void>;
  unpause(ref: string): Promise<void>;
  wait(ref: string, condition?: string): Promise<WaitResult>;
  remove(ref: string, opts: { force?: boolean; removeVolumes?: boolean }): Promise<void>;
  rename(ref: string, newName: string): void;
  update(ref: string, body: unknown): Promise<{ Warnings: string[] }>;
  top(ref: string, psArgs: string | null): Promise<{ Titles: string[]; Processes: string[][] }>;
  resize(ref: string, height: number, width: number): Promise<void>;
  closeStdin(id: string): Promise<void>;
  /** The cgroup sample of the container's running task (stats), or undefined when it has none. */
  sample(id: string): Promise<ContainerSample | undefined>;
}

/** A container's root filesystem as a directory (changes, export, cp); the daemon hands them RootfsAccess. */
export interface ContainerRootfs {
  /** The overlay upper dir (the container's changes) and the image's lower dirs, top first. */
  layers(rec: ContainerRecord): Promise<{ upper: string; lowers: string[] }>;
  /** Run `fn` with the container's root directory open (O_PATH) as `rootFd`; closed and unmounted after. */
  withRootFd<T>(rec: ContainerRecord, mode: AccessMode, fn: (rootFd: number) => Promise<T>): Promise<T>;
}

export interface ExecBackend {
  create(ref: string, body: unknown): IdResponse;
  start(id: string, opts: { detach: boolean; tty?: boolean; beforeStart?: (e: ExecRecord) => void }): Promise<ExecRecord>;
  resize(id: string, height: number, width: number): Promise<void>;
  inspect(id: string): ExecInspectResponse;
  /** Close a running exec's stdin (attach with stdin-once reached EOF). */
  closeStdin(e: ExecRecord): Promise<void>;
  /** The exec ids of a container (inspect's ExecIDs). */
  idsOf(containerId: string): string[];
}
