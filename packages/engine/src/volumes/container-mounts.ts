import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { types } from '@gantry/api';
import { errdefs, linuxSys, MS } from '@gantry/linux';
import type { EngineContext } from '../context';
import type { HostConfig } from '@gantry/engine-api';
import { checkTarget, cleanPath, parseBind, parseMountSpec, type UserMount } from '../containers/mounts';
import type { ContainerRecord } from '../containers/record';
import type { ContainerStore } from '../containers/store';
import { copyImageContent } from './copyup';
import type { VolumeStore } from './store';
import type { MountPoint as ApiMountPoint } from '@gantry/engine-api';

/** One of a container's mounts as dockerd records it (its `MountPoints`), behind `Mounts` in inspect: the API's fields and what gantryd keeps beside them. */
export interface MountPoint extends ApiMountPoint {
  Type: 'volume' | 'bind' | 'tmpfs';
  /** volume: copy the image's content into it when empty. */
  CopyData?: boolean;
  /** volume: made for this container without a name (`docker rm -v` removes it). */
  Anonymous?: boolean;
  /** bind: create the host path at start when missing (`-v`, CreateMountpoint). */
  CreateSource?: boolean;
}

/** What container create needs from the volumes: the plan for buildSpec, copy-up, and an undo. */
export interface PreparedMounts {
  mountPoints: MountPoint[];
  volumeSource: (destination: string) => string | undefined;
  configVolumes: UserMount[];
  /** Copy the image's content into empty volumes, reading the image through the snapshot's mounts. */
  copyUp(rootfs: types.Mount[]): void;
  /** Remove the volumes this create made. */
  rollback(): void;
}

/** The `MountPoints` a record carries (absent on records older than volumes). */
function mountPointsOf(rec: ContainerRecord): MountPoint[] {
  return rec.MountPoints ?? [];
}

/** `Mounts` of `docker inspect` / `docker ps`: Docker's MountPoint JSON. */
export function mountsJson(rec: ContainerRecord): Record<string, unknown>[] {
  return mountPointsOf(rec).map((m) => ({
    Type: m.Type,
    ...(m.Name ? { Name: m.Name } : {}),
    Source: m.Source,
    Destination: m.Destination,
    ...(m.Driver ? { Driver: m.Driver } : {}),
    Mode: m.Mode,
    RW: m.RW,
    Propagation: m.Propagation,
  }));
}

/** `docker ps --filter volume=X`: a volume name or a mount destination. */
export function usesVolume(rec: ContainerRecord, value: string): boolean {
  return mountPointsOf(rec).some((m) => m.Destination === value || (m.Type === 'volume' && m.Name === value) || (m.Type === 'bind' && m.Source === value));
}

/** Mount a snapshot's mounts read-only on a temporary directory, run `fn` on it, unmount. */
function withRootfs<T>(mounts: types.Mount[], scratch: string, fn: (root: string) => T): T {
  const sys = linuxSys();
  const dir = fs.mkdtempSync(path.join(fs.existsSync(scratch) ? scratch : os.tmpdir(), '.copyup-'));
  let mounted = false;
  try {
    for (const m of mounts) {
      const opts = m.options.filter((o) => o !== 'rw' && o !== 'ro' && o !== 'rbind' && o !== 'bind');
      const bind = m.type === 'bind' || m.options.includes('bind') || m.options.includes('rbind');
      sys.mount(m.source, dir, bind ? null : m.type, (bind ? MS.BIND | MS.REC : 0) | MS.RDONLY, opts.length ? opts.join(',') : null);
      mounted = true;
    }
    return fn(dir);
  } finally {
    if (mounted) {
      try {
        sys.umount(dir, 2 /* MNT_DETACH */);
      } catch {
        // not mounted
      }
    }
    fs.rmdirSync(dir);
  }
}

/**
 * The engine's side of container mounts: plans them at create (creating named and anonymous
 * volumes), holds volumes while containers run (mounting devices of tmpfs/bind-typed local
 * volumes), and removes anonymous volumes with their container when asked.
 */
export class ContainerMounts {
  constructor(
    readonly volumes: VolumeStore,
    private readonly containers: ContainerStore,
    private readonly ctx: EngineContext,
  ) {}

  /** Ids of the containers whose mounts reference the volume (running or not). */
  usersOf(name: string): string[] {
    return this.containers
      .all()
      .filter((c) => mountPointsOf(c).some((m) => m.Type === 'volume' && m.Name === name))
      .map((c) => c.Id);
  }

  /** Plan a new container's mounts; creates the volumes it needs (undone by `rollback`). */
  prepare(hc: HostConfig, configVolumes: string[]): PreparedMounts {
    const bad = <T>(f: () => T): T => {
      try {
        return f();
      } catch (e) {
        throw errdefs.invalidArgument((e as Error).message);
      }
    };
    const user: UserMount[] = [...(hc.Binds ?? []).map((b) => bad(() => parseBind(b))), ...(hc.Mounts ?? []).map((m) => bad(() => parseMountSpec(m)))];
    for (const m of user) {
      if (m.kind === 'bind' && !m.fromBinds && !m.createMountpoint && !fs.existsSync(m.source)) {
        throw errdefs.invalidArgument(`invalid mount config for type "bind": bind source path does not exist: ${m.source}`);
      }
    }
    const covered = new Set([...user.map((m) => m.destination), ...Object.keys(hc.Tmpfs ?? {}).map(cleanPath)]);
    const created: string[] = [];
    const rollback = () => {
      for (const name of created.splice(0)) {
        try {
          this.volumes.remove(name, []);
        } catch (e) {
          this.ctx.log.warn('could not remove a volume of a failed create', { name, error: String(e) });
        }
      }
    };
    const mountPoints: MountPoint[] = [];
    const sources = new Map<string, string>();
    const extra: UserMount[] = [];
    const createVolume = (o: { name?: string; driver?: string; options?: Record<string, string>; labels?: Record<string, string> }) => {
      const r = this.volumes.create(o);
      if (r.created) {
        created.push(r.volume.Name);
        this.ctx.events.emit('volume', 'create', r.volume.Name, { driver: r.volume.Driver });
      }
      return r.volume;
    };
    try {
      for (const m of user) {
        if (m.kind === 'volume') {
          const v = createVolume({ name: m.name, driver: m.volumeCreate?.driver, options: m.volumeCreate?.options, labels: m.volumeCreate?.labels });
          const src = this.volumes.dataPath(v.Name);
          sources.set(m.destination, src);
          mountPoints.push({
            Type: 'volume',
            Name: v.Name,
            Source: src,
            Destination: m.destination,
            Driver: v.Driver,
            Mode: m.mode ?? '',
            RW: m.writable,
            Propagation: '',
            CopyData: m.copyData ?? true,
            Anonymous: !m.name,
          });
        } else if (m.kind === 'bind') {
          mountPoints.push({
            Type: 'bind',
            Source: m.source,
            Destination: m.destination,
            Mode: m.mode ?? '',
            RW: m.writable,
            Propagation: m.propagation ?? 'rprivate',
            CreateSource: m.fromBinds || m.createMountpoint,
          });
        } else {
          mountPoints.push({ Type: 'tmpfs', Source: '', Destination: m.destination, Mode: '', RW: m.writable, Propagation: '' });
        }
      }
      for (const raw of configVolumes) {
        bad(() => checkTarget(raw));
        const destination = cleanPath(raw);
        if (covered.has(destination)) continue;
        covered.add(destination);
        const v = createVolume({});
        const src = this.volumes.dataPath(v.Name);
        extra.push({ destination, source: src, kind: 'bind', writable: true, propagation: 'rprivate' });
        mountPoints.push({
          Type: 'volume',
          Name: v.Name,
          Source: src,
          Destination: destination,
          Driver: v.Driver,
          Mode: '',
          RW: true,
          Propagation: '',
          CopyData: true,
          Anonymous: true,
        });
      }
    } catch (e) {
      rollback();
      throw e;
    }
    return {
      mountPoints,
      volumeSource: (d) => sources.get(d),
      configVolumes: extra,
      rollback,
      copyUp: (rootfs) => this.copyUp(mountPoints, rootfs),
    };
  }

  private copyUp(mountPoints: MountPoint[], rootfs: types.Mount[]): void {
    const wanted = mountPoints.filter((m) => m.Type === 'volume' && m.CopyData && m.Name);
    if (wanted.length === 0) return;
    const holder = `copyup-${process.pid}-${Date.now()}`;
    const held: string[] = [];
    try {
      const empty = wanted.filter((m) => {
        this.volumes.acquire(m.Name!, holder);
        held.push(m.Name!);
        return fs.readdirSync(m.Source).length === 0;
      });
      if (empty.length === 0) return;
      withRootfs(rootfs, this.ctx.dataRoot, (root) => {
        for (const m of empty) copyImageContent(root, m.Destination, m.Source);
      });
    } finally {
      for (const name of held) this.volumes.release(name, holder);
    }
  }

  /** Before the task starts: create missing `-v` host paths, hold (and mount) its volumes. */
  start(rec: ContainerRecord): void {
    const held: string[] = [];
    try {
      for (const m of mountPointsOf(rec)) {
        if (m.Type === 'bind' && m.CreateSource && !fs.existsSync(m.Source)) fs.mkdirSync(m.Source, { recursive: true, mode: 0o755 });
        if (m.Type === 'volume' && m.Name) {
          this.volumes.acquire(m.Name, rec.Id);
          held.push(m.Name);
          this.ctx.events.emit('volume', 'mount', m.Name, {
            container: rec.Id,
            destination: m.Destination,
            driver: m.Driver ?? 'local',
            propagation: m.Propagation,
            'read/write': String(m.RW),
          });
        }
      }
    } catch (e) {
      for (const name of held) this.volumes.release(name, rec.Id);
      throw e;
    }
  }

  /** A running container adopted after a restart of gantryd holds its volumes again (already mounted). */
  adopt(rec: ContainerRecord): void {
    for (const m of mountPointsOf(rec)) {
      if (m.Type !== 'volume' || !m.Name) continue;
      try {
        this.volumes.acquire(m.Name, rec.Id);
      } catch (e) {
        this.ctx.log.warn('volume of an adopted container not held', { id: rec.Id, name: m.Name, error: String(e) });
      }
    }
  }

  /** After the task ended: let go of its volumes (the last user unmounts a device). */
  stop(rec: ContainerRecord): void {
    for (const m of mountPointsOf(rec)) {
      if (m.Type !== 'volume' || !m.Name) continue;
      if (!this.volumes.holdersOf(m.Name).includes(rec.Id)) continue;
      this.volumes.release(m.Name, rec.Id);
      this.ctx.events.emit('volume', 'unmount', m.Name, { container: rec.Id, driver: m.Driver ?? 'local' });
    }
  }

  /** The container is gone: with `removeVolumes` (`rm -v`, `--rm`), its anonymous volumes go too. */
  removed(rec: ContainerRecord, removeVolumes: boolean): void {
    this.stop(rec);
    if (!removeVolumes) return;
    for (const m of mountPointsOf(rec)) {
      if (m.Type !== 'volume' || !m.Name || !m.Anonymous || !this.volumes.find(m.Name)) continue;
      try {
        this.volumes.remove(m.Name, this.usersOf(m.Name));
        this.ctx.events.emit('volume', 'destroy', m.Name, { driver: m.Driver ?? 'local' });
      } catch (e) {
        this.ctx.log.warn('anonymous volume not removed', { name: m.Name, error: String(e) });
      }
    }
  }
}
