/**
 * The guard against CVE-2019-5736 (runc's "overwrite the runtime binary" class).
 *
 * The init and exec stages are node processes. Run from the host's node file, a stage hands the
 * container that file: a program starting `#!/proc/self/exe` makes the exec'ing stage run its own
 * binary, and a process sharing a stage's pid namespace may open /proc/<pid>/exe. Root in the
 * container then reopens the handle for writing (through /proc/self/fd/N) once nothing executes
 * the binary, and every later Gantry process runs the container's code.
 *
 * So stages run node only through a sealed handle, made once per process and node binary, as
 * runc's `exeseal` does:
 * - `overlay` (tried first): a read-only overlayfs made with fsopen/fsmount and attached to no
 *   mount table, lower layers node's directory and another one, no upper layer. The stage's
 *   executable then lives on a superblock that is read-only for good (no remount can give it an
 *   upper layer), so every open for writing is EROFS. Nothing is copied and a detached mount
 *   leaves nothing in any mount table. Measured here: ~0.05 ms to make; dissolving and tearing it
 *   down cost an RCU grace period each (~0.1 ms median, a few ms on a loaded VM), after the spawn
 *   and at exit; node started from it uses ~4% more CPU (+~400 page faults), because V8 cannot
 *   reopen its binary at the path /proc/self/maps shows to re-map its embedded builtins and
 *   copies the 1.6 MB instead (--no-short-builtin-calls avoids the copy but costs more).
 * - `copy`: a sealed memfd copy of node (F_SEAL_WRITE|SHRINK|GROW, then F_SEAL_SEAL). Independent
 *   of the host file, but copying ~100 MB costs ~170 ms here: the fallback for kernels or
 *   filesystems that refuse the overlay.
 * GANTRY_RUNTIME_EXE_SEAL=overlay|copy (or RuntimeOptions.exeSeal) picks one with no fallback.
 */
import * as path from 'node:path';
import { F, F_SEAL, MFD, MOUNT_ATTR, O, SysError, type Sys } from '@gantry/linux';
import { ConfigError, InitError } from '../errors';
import { trace } from '../trace';

export type ExeSealMode = 'overlay' | 'copy';
const EXE_SEAL_MODES: readonly ExeSealMode[] = ['overlay', 'copy'];

export interface StageExecutableOptions {
  /** The node binary the stages run (its real path is sealed). */
  node: string;
  /** Only this mechanism; default: overlay, then copy. A string so bad env values fail at use. */
  seal?: string;
  /**
   * The overlay's bottom layer (overlayfs needs two lower layers to mount with no upper one): any
   * directory that neither contains nor is inside node's; made if missing. The runtime passes its
   * state root. node's directory is stacked above it, so nothing in it can shadow the binary, and
   * nothing but the binary is ever looked up.
   */
  bottomDir: string;
}

export interface SealedExecutable {
  /** O_PATH (overlay) or memfd (copy) descriptor, close-on-exec: no child ever inherits it. */
  fd: number;
  how: ExeSealMode;
  /**
   * overlay: the detached mount's own fd until the first stage is spawned. Closing it dissolves
   * the mount's anonymous namespace, which waits for an RCU grace period (up to ~10 ms on a busy
   * 2-core machine): done after spawning, it overlaps the stage's start-up instead of delaying it.
   * The O_PATH fd keeps the mount itself alive.
   */
  mountFd?: number;
}

/**
 * Overlayfs splits lowerdir on ':' and drops the '\' before an escaped character; kernels before
 * 6.5 pass fsconfig parameters through a comma-separated option string, so ',' is escaped too.
 */
function escapeLowerdir(p: string): string {
  return p.replace(/[\\:,]/g, (c) => `\\${c}`);
}

/** A read-only, detached overlayfs holding the directory of `real` (node, symlinks resolved); an O_PATH fd of node on it. */
function sealWithOverlay(sys: Sys, real: string, bottomDir: string): SealedExecutable {
  sys.mkdirAll(bottomDir, 0o711);
  const ctx = sys.fsopen('overlay');
  let mnt: number | undefined;
  try {
    // node's directory on top: nothing in the other layer can shadow the binary.
    sys.fsconfigString(ctx, 'lowerdir', `${escapeLowerdir(path.dirname(real))}:${escapeLowerdir(bottomDir)}`);
    try {
      // Layers on different filesystems would turn xino on and log about it; we do not need it.
      sys.fsconfigString(ctx, 'xino', 'off');
    } catch {
      // kernels before 4.17 have no xino at all
    }
    sys.fsconfigCreate(ctx);
    mnt = sys.fsmount(ctx, MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV);
    const fd = sys.openat(mnt, path.basename(real), O.PATH | O.NOFOLLOW | O.CLOEXEC);
    return { fd, how: 'overlay', mountFd: mnt };
  } catch (e) {
    if (mnt !== undefined) sys.close(mnt);
    throw e;
  } finally {
    sys.close(ctx);
  }
}

/** A sealed memfd copy of node: no write, resize or further seal can touch it. */
function sealWithCopy(sys: Sys, node: string): SealedExecutable {
  const src = sys.open(node, O.RDONLY | O.CLOEXEC);
  let mfd: number | undefined;
  try {
    const flags = MFD.CLOEXEC | MFD.ALLOW_SEALING;
    try {
      // Where vm.memfd_noexec is set, only MFD_EXEC memfds may be executed; kernels before 6.3
      // do not know the flag (EINVAL).
      mfd = sys.memfdCreate('gantry-stage-node', flags | MFD.EXEC);
    } catch (e) {
      if (!(e instanceof SysError && e.code === 'EINVAL')) throw e;
      mfd = sys.memfdCreate('gantry-stage-node', flags);
    }
    while (sys.sendfile(mfd, src, 1 << 30) > 0) {
      // until end of file
    }
    try {
      sys.fcntlInt(mfd, F.ADD_SEALS, F_SEAL.EXEC);
    } catch {
      // Linux < 6.3: the exec bits stay changeable, which does not let anyone write the copy
    }
    sys.fcntlInt(mfd, F.ADD_SEALS, F_SEAL.WRITE | F_SEAL.SHRINK | F_SEAL.GROW | F_SEAL.SEAL);
    return { fd: mfd, how: 'copy' };
  } catch (e) {
    if (mfd !== undefined) sys.close(mfd);
    throw e;
  } finally {
    sys.close(src);
  }
}

/** Try the mechanisms in order; a kernel refusal moves on, anything else is a bug and is thrown. */
export function sealExecutable(sys: Sys, opts: StageExecutableOptions): SealedExecutable {
  if (opts.seal !== undefined && !EXE_SEAL_MODES.includes(opts.seal as ExeSealMode)) {
    throw new ConfigError(`invalid stage executable seal ${JSON.stringify(opts.seal)} (want ${EXE_SEAL_MODES.join(' or ')})`);
  }
  let real: string;
  try {
    // The overlay needs the directory that really holds the binary.
    real = sys.realpath(opts.node);
  } catch (e) {
    throw new ConfigError(`the stages' node ${opts.node} cannot be used: ${e instanceof Error ? e.message : String(e)}`);
  }
  const modes = opts.seal ? [opts.seal as ExeSealMode] : EXE_SEAL_MODES;
  const failures: string[] = [];
  for (const mode of modes) {
    try {
      const sealed = mode === 'overlay' ? sealWithOverlay(sys, real, opts.bottomDir) : sealWithCopy(sys, real);
      trace(`stage executable sealed (${mode})`);
      return sealed;
    } catch (e) {
      if (!(e instanceof SysError)) throw e;
      failures.push(`${mode}: ${e.message}`);
      trace(`stage executable: ${mode} failed: ${e.message}`);
    }
  }
  throw new InitError(`cannot seal the stage executable ${opts.node} against CVE-2019-5736: ${failures.join('; ')}`);
}

// One sealed handle per kernel seam and (node, mechanism): a long-lived process (a shim with a
// Runtime per container) reuses it instead of making one per Runtime. Reuse is safe because the
// handle is read-only for good (overlay) or sealed (copy).
const cache = new WeakMap<Sys, Map<string, SealedExecutable>>();

/** The node a stage runs, sealed; how to spawn it without exposing the host's file. */
export class StageExecutable {
  constructor(
    private readonly sys: Sys,
    readonly opts: StageExecutableOptions,
  ) {}

  /** The sealed handle, made on first use. */
  sealed(): SealedExecutable {
    let bySys = cache.get(this.sys);
    if (!bySys) cache.set(this.sys, (bySys = new Map<string, SealedExecutable>()));
    const key = `${this.opts.seal ?? ''}\0${this.opts.node}`;
    let s = bySys.get(key);
    if (!s) bySys.set(key, (s = sealExecutable(this.sys, this.opts)));
    return s;
  }

  /**
   * Call `spawn` with the file to execute: /proc/self/fd/N of the sealed handle. The child maps its
   * stdio onto fds 0..stdioCount-1 before exec, which would replace N if it were among them, so a
   * low N is first duplicated at or above stdioCount (and closed once `spawn` returned: the child
   * has its own copy of the fd table).
   */
  spawnWith<T>(stdioCount: number, spawn: (file: string) => T): T {
    const sealed = this.sealed();
    const high = sealed.fd >= stdioCount ? sealed.fd : this.sys.fcntlInt(sealed.fd, F.DUPFD_CLOEXEC, stdioCount);
    try {
      return spawn(`/proc/self/fd/${high}`);
    } finally {
      if (high !== sealed.fd) this.sys.close(high);
      this.dropMountFd(sealed);
    }
  }

  /**
   * Call `spawn` with the sealed handle's fd, for a child that inherits it (mapped into its fd
   * table by `spawn`) and execs it later itself: a trampoline such as nsenter, which must not
   * exec the host's node file either.
   */
  spawnInherited<T>(spawn: (sealedFd: number) => T): T {
    const sealed = this.sealed();
    try {
      return spawn(sealed.fd);
    } finally {
      this.dropMountFd(sealed);
    }
  }

  private dropMountFd(sealed: SealedExecutable): void {
    if (sealed.mountFd !== undefined) {
      const mnt = sealed.mountFd;
      sealed.mountFd = undefined;
      this.sys.close(mnt);
    }
  }
}
