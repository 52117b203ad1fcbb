/** A container as gantryd keeps it (the shape behind `docker inspect`), persisted per container. */
import type { MountPoint } from '../volumes/container-mounts';

type ContainerStatus = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export interface HealthState {
  Status: 'starting' | 'healthy' | 'unhealthy' | 'none';
  FailingStreak: number;
  Log: { Start: string; End: string; ExitCode: number; Output: string }[];
}

export interface ContainerState {
  Status: ContainerStatus;
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  Dead: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
  Health?: HealthState;
}

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

export const NULL_TIME = '0001-01-01T00:00:00Z';

export function initialState(): ContainerState {
  return {
    Status: 'created',
    Running: false,
    Paused: false,
    Restarting: false,
    OOMKilled: false,
    Dead: false,
    Pid: 0,
    ExitCode: 0,
    Error: '',
    StartedAt: NULL_TIME,
    FinishedAt: NULL_TIME,
  };
}
