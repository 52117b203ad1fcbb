/** What the volume routes (routes/volumes.ts) call: the volume store and who mounts what. Types only. */
import type { CreateVolumeOptions, VolumeRecord } from '../volumes/store';

interface VolumeRecords {
  all(): VolumeRecord[];
  find(name: string): VolumeRecord | undefined;
  /** 404 when there is no such volume. */
  get(name: string): VolumeRecord;
  isAnonymous(v: VolumeRecord): boolean;
  create(o: CreateVolumeOptions): { volume: VolumeRecord; created: boolean };
  /** 409 when `users` is not empty. */
  remove(name: string, users: string[]): void;
  dataPath(name: string): string;
  /** Bytes under the volume's data directory. */
  size(name: string): number;
}

export interface VolumesBackend {
  readonly volumes: VolumeRecords;
  /** The containers that use volume `name` (running or not). */
  usersOf(name: string): string[];
}
