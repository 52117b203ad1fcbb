/**
 * A container's root filesystem as a host directory, for docker cp / export / diff:
 * - a running container's rootfs is the overlay its shim mounted at
 *   <containerd state>/tasks/gantry/<id>/rootfs (in the host's mount namespace, without the
 *   container's own /proc, /sys, /dev, bind mounts); used as it is for reading and writing.
 *   With a containerd gantryd does not run (--containerd: no state dir) that mount is found in
 *   /proc/self/mountinfo; only when it cannot be found (the shim in another mount namespace) do
 *   reads mount the snapshot read-only and writes go through /proc/<pid>/root.
 * - a stopped container's snapshot is mounted on a temporary directory (read-only: its upper dir
 *   folded into the lower stack; for writing: the overlay with its upper dir) and always unmounted.
 * Volumes and bind mounts are not part of this view.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errdefs, linuxSys, openRoot, overlayLayers, withTempMounts, type MountSpec } from '@gantry/linux';
import type { EngineContext } from '../context';
import { ENGINE_NAMESPACE } from '../containerd/client';
import type { ContainerRecord } from './record';

const SNAPSHOTTER = 'overlayfs';

export type AccessMode = 'read' | 'write';

/** Whether `dir` is the root of a mount (its device differs from its parent's). */
function isMountRoot(dir: string): boolean {
  try {
    return fs.statSync(dir).dev !== fs.statSync(path.dirname(dir)).dev;
  } catch {
    return false;
  }
}

function readMountinfo(): string {
  try {
    return fs.readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return '';
  }
}

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
function unescapeMountPath(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/**
 * Where a containerd shim mounted task `id`'s rootfs (<state>/tasks/gantry/<id>/rootfs), from
 * /proc/self/mountinfo's text; the last such mount wins, as it is the one on top.
 */
export function taskRootfsMount(mountinfo: string, id: string): string | undefined {
  const suffix = `/tasks/${ENGINE_NAMESPACE}/${id}/rootfs`;
  let found: string | undefined;
  for (const line of mountinfo.split('\n')) {
    const mountPoint = line.split(' ')[4];
    if (mountPoint === undefined) continue;
    const p = unescapeMountPath(mountPoint);
    if (p.endsWith(suffix)) found = p;
  }
  return found;
}

export class RootfsAccess {
  private readonly tmpRoot: string;

  constructor(private readonly ctx: EngineContext) {
    this.tmpRoot = path.join(ctx.dataRoot, 'tmp', 'rootfs');
  }

  /** The snapshot's mounts (overlay upper + lowers) as containerd describes them. */
  async snapshotMounts(rec: ContainerRecord): Promise<MountSpec[]> {
    const cd = this.ctx.cd;
    try {
      const r = await cd.call(cd.snapshots, cd.snapshots.mounts, { snapshotter: SNAPSHOTTER, key: rec.SnapshotKey });
      return r.mounts.map((m) => ({ type: m.type, source: m.source, options: [...m.options], ...(m.target ? { target: m.target } : {}) }));
    } catch (e) {
      throw errdefs.fromGrpc(e);
    }
  }

  /** The overlay upper dir (the container's changes) and the image's lower dirs, top first. */
  async layers(rec: ContainerRecord): Promise<{ upper: string; lowers: string[] }> {
    const mounts = await this.snapshotMounts(rec);
    const m = mounts.length === 1 ? mounts[0]! : undefined;
    if (!m || m.type !== 'overlay') throw new Error(`container ${rec.Id}: snapshot is not a single overlay mount`);
    const { upper, lowers } = overlayLayers(m);
    if (upper === undefined) throw new Error(`container ${rec.Id}: snapshot has no upper dir`);
    return { upper, lowers };
  }

  /**
   * The live rootfs mount of a running container's task. With a containerd gantryd runs, its state
   * dir is known; with another (--containerd) the mount is found in our mount table, so both read
   * and write the same view.
   */
  private taskRootfs(rec: ContainerRecord): string | undefined {
    if (!rec.State.Running) return undefined;
    const dir = this.ctx.containerdState
      ? path.join(this.ctx.containerdState, 'tasks', ENGINE_NAMESPACE, rec.Id, 'rootfs')
      : taskRootfsMount(readMountinfo(), rec.Id);
    return dir !== undefined && isMountRoot(dir) ? dir : undefined;
  }

  /**
   * Run `fn` with the container's root directory open (O_PATH) as `rootFd`: every path inside it
   * is then opened below that fd (@gantry/linux's confine toolkit). Closed and unmounted after.
   */
  async withRootFd<T>(rec: ContainerRecord, mode: AccessMode, fn: (rootFd: number) => Promise<T>): Promise<T> {
    const sys = linuxSys();
    return this.withRoot(rec, mode, async (root) => {
      const fd = openRoot(sys, root);
      try {
        return await fn(fd);
      } finally {
        sys.close(fd);
      }
    });
  }

  /** Run `fn` with the container's root directory; temporary mounts are undone after, always. */
  async withRoot<T>(rec: ContainerRecord, mode: AccessMode, fn: (root: string) => Promise<T>): Promise<T> {
    const live = this.taskRootfs(rec);
    if (live) return fn(live);
    if (mode === 'write' && rec.State.Running && rec.State.Pid > 0) return fn(`/proc/${rec.State.Pid}/root`);
    const mounts = await this.snapshotMounts(rec);
    return withTempMounts(linuxSys(), this.tmpRoot, mounts, mode === 'read', fn);
  }
}
