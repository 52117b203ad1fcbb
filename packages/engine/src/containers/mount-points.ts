/**
 * The `Mounts` list of container inspect and list: Docker's MountPoint view of the container's
 * Binds and HostConfig.Mounts (what the CLI shows with `inspect` and `ps --format {{.Mounts}}`).
 */
import type { HostConfig } from './docker-types';
import { parseBind, parseMountSpec, type UserMount } from './mounts';

export interface MountPoint {
  Type: 'bind' | 'tmpfs';
  Source: string;
  Destination: string;
  /** The options as given after the target in a Binds entry ("ro", "rw,z"); '' for Mounts. */
  Mode: string;
  RW: boolean;
  Propagation: string;
}

function point(m: UserMount, mode: string): MountPoint {
  return m.kind === 'tmpfs'
    ? { Type: 'tmpfs', Source: '', Destination: m.destination, Mode: mode, RW: m.writable, Propagation: '' }
    : { Type: 'bind', Source: m.source, Destination: m.destination, Mode: mode, RW: m.writable, Propagation: m.propagation || 'rprivate' };
}

/** Entries that do not parse (they were validated at create, so none should) are left out. */
export function mountPoints(host: HostConfig | undefined): MountPoint[] {
  const out: MountPoint[] = [];
  for (const raw of host?.Binds ?? []) {
    try {
      const parts = raw.split(':');
      out.push(point(parseBind(raw), parts.length >= 3 ? parts.slice(2).join(':') : ''));
    } catch {
      // not a bind we could have created
    }
  }
  for (const m of host?.Mounts ?? []) {
    try {
      out.push(point(parseMountSpec(m), ''));
    } catch {
      // idem
    }
  }
  return out;
}
