import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  errdefs,
  isJsonObject,
  linuxSys,
  loadJsonOrQuarantine,
  mountPointsUnder,
  openRoot,
  type QuarantineReport,
  readMountinfo,
  sweepTempFiles,
  writeJsonAtomic,
  openChild,
} from '@gantry/linux';
import { localMountCalls, needsMount, validateLocalOptions } from './local-options';
import { ANONYMOUS_LABEL, anonymousVolumeName, volumeNameError } from './names';

/** A volume as gantryd keeps it (the shape of `docker volume inspect` without Mountpoint). */
export interface VolumeRecord {
  Name: string;
  Driver: string;
  Labels: Record<string, string> | null;
  Options: Record<string, string> | null;
  CreatedAt: string;
  Scope: 'local';
}

/** The part of the kernel seam volumes need (FakeSys records it in unit tests). */
export interface MountSeam {
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void;
  umount(target: string, flags: number): void;
}

export interface VolumeStoreOptions {
  sys?: () => MountSeam;
  /** Mount points now mounted at or under `dir` (default: from /proc/self/mountinfo). */
  mountsUnder?: (dir: string) => string[];
  /** A volume.json that could not be read at start-up was moved aside (for the daemon's log). */
  onQuarantine?: (r: QuarantineReport) => void;
}

export interface CreateVolumeOptions {
  name?: string;
  driver?: string;
  options?: Record<string, string> | null;
  labels?: Record<string, string> | null;
}

const RECORD = 'volume.json';

/** Only an empty _data (or nothing): what a create cut short leaves, holding no data. */
function leftOfUnfinishedCreate(vdir: string): boolean {
  const names = fs.readdirSync(vdir);
  if (names.some((n) => n !== '_data')) return false;
  try {
    return fs.readdirSync(path.join(vdir, '_data')).length === 0;
  } catch {
    return false;
  }
}

/** Mount points from /proc/self/mountinfo at or below `dir`. */
function mountsUnderFromProc(dir: string): string[] {
  return mountPointsUnder(readMountinfo(), dir);
}

/**
 * Volumes of the `local` driver: <data-root>/volumes/<name>/_data holds the data and
 * <name>/volume.json the metadata (@gantry/linux's writeJsonAtomic). Volumes with
 * type/device options get their device mounted on _data while at least one user holds them.
 * A volume.json that cannot be read at start-up goes to <name>/quarantine/; _data is never
 * touched, and the name stays taken until an operator looks at it.
 */
export class VolumeStore {
  readonly dir: string;
  private readonly vols = new Map<string, VolumeRecord>();
  /** volume name → the ids holding it mounted (running containers, copy-ups). */
  private readonly holders = new Map<string, Set<string>>();
  private readonly sys: () => MountSeam;
  private readonly mountsUnder: (dir: string) => string[];

  constructor(dataRoot: string, opts: VolumeStoreOptions = {}) {
    this.dir = path.join(dataRoot, 'volumes');
    this.sys = opts.sys ?? linuxSys;
    this.mountsUnder = opts.mountsUnder ?? mountsUnderFromProc;
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o701 });
    for (const name of fs.readdirSync(this.dir)) {
      const vdir = path.join(this.dir, name);
      if (!fs.lstatSync(vdir).isDirectory()) continue;
      sweepTempFiles(vdir);
      const rec = loadJsonOrQuarantine<VolumeRecord>(path.join(vdir, RECORD), {
        validate: (v) => (isJsonObject(v) && v.Name === name && typeof v.Driver === 'string' ? undefined : 'not a volume record of this directory'),
        onQuarantine: (r) => opts.onQuarantine?.(r),
      });
      if (rec) this.vols.set(name, rec);
      else if (leftOfUnfinishedCreate(vdir)) {
        try {
          fs.rmdirSync(path.join(vdir, '_data')); // rmdir, not rm -r: a mount point there fails (EBUSY) and stays
          fs.rmdirSync(vdir);
        } catch {
          // left in place; create refuses the name
        }
      }
      // else: not ours, or its record is in quarantine/: left alone (create refuses the name)
    }
  }

  /** The host directory a container sees. */
  dataPath(name: string): string {
    return path.join(this.dir, name, '_data');
  }

  all(): VolumeRecord[] {
    return [...this.vols.values()];
  }

  find(name: string): VolumeRecord | undefined {
    return this.vols.get(name);
  }

  get(name: string): VolumeRecord {
    const v = this.vols.get(name);
    if (!v) throw errdefs.notFound(`get ${name}: no such volume`);
    return v;
  }

  isAnonymous(v: VolumeRecord): boolean {
    return v.Labels !== null && ANONYMOUS_LABEL in v.Labels;
  }

  /**
   * Create a volume, or return the one of that name (as dockerd does). No name means an
   * anonymous volume. Throws errdefs kinds with Docker's messages.
   */
  create(o: CreateVolumeOptions): { volume: VolumeRecord; created: boolean } {
    const driver = o.driver || 'local';
    let name = o.name ?? '';
    let labels = o.labels ?? null;
    if (name === '') {
      name = anonymousVolumeName();
      labels = { ...(labels ?? {}), [ANONYMOUS_LABEL]: '' };
    }
    const existing = this.vols.get(name);
    if (existing) {
      if (existing.Driver !== driver)
        throw errdefs.conflict(`create ${name}: a volume with the name ${name} already exists with driver ${JSON.stringify(existing.Driver)}`);
      return { volume: existing, created: false };
    }
    if (driver !== 'local') throw errdefs.notFound(`create ${name}: error looking up volume plugin ${driver}: plugin ${JSON.stringify(driver)} not found`);
    const nameErr = volumeNameError(name);
    if (nameErr) throw errdefs.invalidArgument(`create ${name}: ${nameErr}`);
    try {
      validateLocalOptions(o.options);
    } catch (e) {
      throw errdefs.invalidArgument(`create ${name}: ${(e as Error).message}`);
    }
    const rec: VolumeRecord = {
      Name: name,
      Driver: 'local',
      Labels: labels,
      Options: o.options ?? null,
      CreatedAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      Scope: 'local',
    };
    const vdir = path.join(this.dir, name);
    // a directory without a usable record (quarantined, or not ours) may hold data: never reuse or remove it
    if (fs.existsSync(vdir)) throw errdefs.conflict(`create ${name}: ${vdir} exists without a volume record (see its quarantine/ directory)`);
    try {
      fs.mkdirSync(path.join(vdir, '_data'), { recursive: true, mode: 0o755 });
      writeJsonAtomic(path.join(vdir, RECORD), rec);
    } catch (e) {
      fs.rmSync(vdir, { recursive: true, force: true });
      throw errdefs.internal(`create ${name}: ${(e as Error).message}`);
    }
    this.vols.set(name, rec);
    return { volume: rec, created: true };
  }

  /**
   * Remove a volume that no container uses (`users`: the containers referencing it). Its device
   * is unmounted first; nothing is deleted while anything is still mounted below it.
   */
  remove(name: string, users: string[]): void {
    this.get(name);
    if (users.length > 0) throw errdefs.conflict(`remove ${name}: volume is in use - [${users.join(', ')}]`);
    const vdir = path.join(this.dir, name);
    this.holders.delete(name);
    this.unmountData(name);
    const left = this.mountsUnder(vdir);
    if (left.length > 0) throw errdefs.internal(`remove ${name}: still mounted at ${left.join(', ')}`);
    fs.rmSync(vdir, { recursive: true, force: true });
    this.vols.delete(name);
  }

  /** `holder` starts using the volume: the device is mounted when it is the first. */
  acquire(name: string, holder: string): void {
    const v = this.get(name);
    const set = this.holders.get(name) ?? new Set<string>();
    if (set.size === 0 && needsMount(v.Options) && !this.isMounted(name)) {
      const target = this.dataPath(name);
      const done: string[] = [];
      try {
        for (const c of localMountCalls(v.Options!, target)) {
          this.sys().mount(c.source, c.target, c.fstype, c.flags, c.data);
          done.push(c.target);
        }
      } catch (e) {
        if (done.length) this.safeUmount(target);
        throw errdefs.internal(`error while mounting volume '${target}': ${(e as Error).message}`);
      }
    }
    set.add(holder);
    this.holders.set(name, set);
  }

  /** `holder` stops using the volume: the device is unmounted when it was the last. */
  release(name: string, holder: string): void {
    const set = this.holders.get(name);
    if (!set?.delete(holder)) return;
    if (set.size > 0) return;
    this.holders.delete(name);
    if (this.vols.has(name)) this.unmountData(name);
  }

  holdersOf(name: string): string[] {
    return [...(this.holders.get(name) ?? [])];
  }

  /** After a restart of gantryd: unmount devices no holder claimed. */
  unmountUnheld(): void {
    for (const v of this.vols.values()) if (!this.holders.get(v.Name)?.size) this.unmountData(v.Name);
  }

  private isMounted(name: string): boolean {
    return this.mountsUnder(this.dataPath(name)).includes(this.dataPath(name));
  }

  private unmountData(name: string): void {
    const v = this.vols.get(name);
    if (!v || !needsMount(v.Options)) return;
    const target = this.dataPath(name);
    // a bind remounted read-only is two mounts deep at most; tmpfs one
    for (let i = 0; i < 4 && this.isMounted(name); i++) this.safeUmount(target);
  }

  private safeUmount(target: string): void {
    try {
      this.sys().umount(target, 0);
    } catch {
      try {
        this.sys().umount(target, 2 /* MNT_DETACH */);
      } catch {
        // not mounted
      }
    }
  }

  /**
   * Bytes used by the volume's data: regular files and symlinks, each inode once (Docker's
   * directory.Size). Read by fd (each entry opened O_NOFOLLOW below its directory's fd): a
   * container writing into the volume meanwhile cannot send the walk onto the host.
   */
  size(name: string): number {
    const sys = linuxSys();
    const seen = new Set<string>();
    let total = 0;
    const walk = (dirFd: number) => {
      let names: string[];
      try {
        names = sys.readdirFd(dirFd);
      } catch {
        return;
      }
      for (const n of names) {
        const child = openChild(sys, dirFd, n);
        if (!child) continue;
        try {
          const st = child.st;
          if (st.isDirectory()) {
            walk(child.fd);
            continue;
          }
          const key = `${st.dev}:${st.ino}`;
          if (seen.has(key)) continue;
          seen.add(key);
          total += Number(st.size);
        } finally {
          sys.close(child.fd);
        }
      }
    };
    let root: number;
    try {
      root = openRoot(sys, this.dataPath(name));
    } catch {
      return 0;
    }
    try {
      walk(root);
    } finally {
      sys.close(root);
    }
    return total;
  }
}
