/** A container as gantryd keeps it (the shape behind `docker inspect`), persisted per container. */
import type { ContainerState, Health as HealthState } from '@gantry/engine-api';
import { NULL_TIME } from '@gantry/engine-api';
import type { MountPoint } from '../volumes/container-mounts';

// the State's shape is the Engine API's, one copy in @gantry/engine-api
export type { ContainerState, Health as HealthState } from '@gantry/engine-api';

export interface ContainerRecord {
  Id: string;
  /** "/name", as Docker stores it. */
  Name: string;
  Created: string;
  Path: string;
  Args: string[];
  /** The image as the user named it, and its ID (config digest). */
  Image: string;
  ImageID: string;
  Config: Record<string, unknown>;
  HostConfig: Record<string, unknown>;
  State: ContainerState;
  RestartCount: number;
  LogPath: string;
  /** Set when the user stopped it (unless-stopped and always policies keep it down after a restart of gantryd). */
  ManuallyStopped: boolean;
  SnapshotKey: string;
  /** Volumes, binds and tmpfs mounts as planned at create (volumes/container-mounts.ts). */
  MountPoints?: MountPoint[];
}

/** A created container's State: the API's defaults. */
export { NULL_TIME, initialContainerState as initialState } from '@gantry/engine-api';

// ---------------------------------------------------------------------------------------------
// State transitions: the only places a record's State changes. Each replaces rec.State with a new
// object (never mutates the old one), so a State read earlier stays what it was.
// ---------------------------------------------------------------------------------------------

/** Its task started (pid): a fresh run, so the exit code, error and OOM flag of the last run are cleared. */
export function setRunning(rec: ContainerRecord, pid: number, startedAt: Date = new Date()): void {
  rec.State = {
    ...rec.State,
    Status: 'running',
    Running: true,
    Paused: false,
    Restarting: false,
    OOMKilled: false,
    Dead: false,
    Pid: pid,
    ExitCode: 0,
    Error: '',
    StartedAt: startedAt.toISOString(),
    FinishedAt: NULL_TIME,
  };
}

/** A task that ran while gantryd was down, adopted at restore: its run (StartedAt, ...) goes on. */
export function setAdopted(rec: ContainerRecord, pid: number, paused: boolean): void {
  rec.State = { ...rec.State, Running: true, Paused: paused, Status: paused ? 'paused' : 'running', Pid: pid };
}

/** Its task exited. OOMKilled stays as the run's /tasks/oom set it (setOomKilled). */
export function setExited(rec: ContainerRecord, exitCode: number, finishedAt: Date): void {
  rec.State = {
    ...rec.State,
    Status: 'exited',
    Running: false,
    Paused: false,
    Restarting: false,
    Pid: 0,
    ExitCode: exitCode,
    FinishedAt: finishedAt.toISOString(),
  };
}

/** Its task could not be created or started: a container never started stays "created". */
export function setStartFailed(rec: ContainerRecord, error: string, exitCode: number): void {
  rec.State = { ...rec.State, Error: error, ExitCode: exitCode, Status: rec.State.Status === 'created' ? 'created' : 'exited' };
}

export function setOomKilled(rec: ContainerRecord): void {
  rec.State = { ...rec.State, OOMKilled: true };
}

export function setPaused(rec: ContainerRecord): void {
  rec.State = { ...rec.State, Paused: true, Status: 'paused' };
}

export function setUnpaused(rec: ContainerRecord): void {
  rec.State = { ...rec.State, Paused: false, Status: 'running' };
}

/** An automatic restart is scheduled (restart policy). */
export function setRestarting(rec: ContainerRecord): void {
  rec.State = { ...rec.State, Status: 'restarting', Restarting: true };
}

/** `docker stop` of a container waiting for its automatic restart: it stays down. */
export function setRestartCancelled(rec: ContainerRecord): void {
  rec.State = { ...rec.State, Status: 'exited', Restarting: false };
}

export function setRemoving(rec: ContainerRecord): void {
  rec.State = { ...rec.State, Status: 'removing' };
}

export function setHealth(rec: ContainerRecord, health: HealthState): void {
  rec.State = { ...rec.State, Health: health };
}
