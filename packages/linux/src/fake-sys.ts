import * as path from 'node:path';
import { SysError } from './errors';
import { AT, F, FS_MAGIC, MS, O, PR } from './constants';
import { fileKindOfMode } from './file-kind';
import type { BpfProgram, CapabilitySets, CompiledSeccomp, FileKind, FsStat, SeccompFilter, SpawnRequest, Sys } from './sys';

export interface SysCall {
  op: string;
  args: unknown[];
}

/** A program FakeSys "loaded": what was asked for, and its id. */
export interface FakeBpfProgram extends BpfProgram {
  id: number;
}

interface FakeNode extends FileKind {
  content?: string;
  target?: string;
  xattrs?: Map<string, Buffer>;
  /** Seconds, as utimensat set them. */
  atime?: number;
  mtime?: number;
}

/** A mount(2) call as the fake kernel saw it, with a /proc/self/fd/N target resolved to its path. */
export interface FakeMount {
  source: string | null;
  /** The path mounted on: /proc/self/fd/N is replaced by the fd's path. */
  target: string;
  fstype: string | null;
  flags: number;
  data: string | null;
}

const FAKE_FS_MAGIC: Readonly<Record<string, number>> = {
  proc: FS_MAGIC.PROC,
  sysfs: FS_MAGIC.SYSFS,
  tmpfs: FS_MAGIC.TMPFS,
  devpts: FS_MAGIC.DEVPTS,
  mqueue: FS_MAGIC.MQUEUE,
  cgroup: FS_MAGIC.CGROUP,
  cgroup2: FS_MAGIC.CGROUP2,
  overlay: FS_MAGIC.OVERLAYFS,
};
const PROC_FD = /^\/proc\/(?:self|thread-self)\/fd\/(\d+)$/;

/** Thrown by FakeSys.execve so a test can observe the final exec without the process ending. */
export class FakeExecve extends Error {
  constructor(
    readonly path: string,
    readonly argv: string[],
    readonly env: string[],
  ) {
    super(`execve ${path}`);
  }
}

/** Thrown by FakeSys.exitNow so a test can observe the stage's end. */
export class FakeExit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

/**
 * A recording fake of the kernel seam: keeps an in-memory file tree and a call log, so init and
 * rootfs logic can be unit-tested without root. `failOn` makes a chosen call fail with an errno.
 */
export class FakeSys implements Sys {
  readonly calls: SysCall[] = [];
  readonly files = new Map<string, FakeNode>();
  caps: CapabilitySets = { effective: (1n << 41n) - 1n, permitted: (1n << 41n) - 1n, inheritable: 0n };
  private nextFd = 10;
  /** fd -> path in the fake tree, for the *at calls (open and openat record what they opened). */
  readonly fdPaths = new Map<number, string>();
  /** What successive `sendfile` calls return (bytes copied); 0 (end of file) once empty. */
  sendfileResults: number[] = [];
  private readonly failures = new Map<string, number>();
  pid = 1;
  /** Loaded BPF programs by id, which program each BPF fd refers to, and what is attached where. */
  readonly bpfPrograms = new Map<number, FakeBpfProgram>();
  private readonly bpfFds = new Map<number, number>();
  private readonly bpfAttached = new Map<string, { id: number; attachType: number; flags: number }[]>();
  private nextBpfId = 100;
  /** The working directory chdir has set (resolved like the kernel would, without symlinks). */
  cwd = '/';
  /** What getcwd answers instead of `cwd`, e.g. "(unreachable)/host/dir" for a cwd outside the root. */
  cwdOverride: string | undefined;
  /** fds listFds reports; close removes one. */
  fds: number[] = [0, 1, 2];
  /** The pid spawn returns. */
  spawnPid = 4242;
  /** Every mount(2) call, targets resolved: what a test asserts "is mounted where". */
  readonly mountTable: FakeMount[] = [];
  /**
   * statfs answers by path prefix (the longest wins), before the mount table is asked: e.g.
   * `fsTypes.set('/proc', { type: FS_MAGIC.PROC, flags: 0 })` for a /proc the fake never mounted.
   */
  readonly fsTypes = new Map<string, FsStat>();

  constructor() {
    this.files.set('/', { kind: 'dir', mode: 0o755, uid: 0, gid: 0, rdev: 0 });
  }

  /** Make the next call of `op` (optionally only for `subject`) fail with `errno`. */
  failOn(op: string, errno: number, subject?: string): void {
    this.failures.set(subject ? `${op}:${subject}` : op, errno);
  }

  /** Calls of one kind, in order. */
  callsOf(op: string): unknown[][] {
    return this.calls.filter((c) => c.op === op).map((c) => c.args);
  }

  addFile(p: string, content = '', mode = 0o644): void {
    this.mkdirAll(path.dirname(p), 0o755);
    this.files.set(p, { kind: 'file', mode, uid: 0, gid: 0, rdev: 0, content });
  }

  addDir(p: string): void {
    this.mkdirAll(p, 0o755);
  }

  addFifo(p: string): void {
    this.mkdirAll(path.dirname(p), 0o755);
    this.files.set(p, { kind: 'fifo', mode: 0o622, uid: 0, gid: 0, rdev: 0 });
  }

  /** /proc/self/fd/N resolved to what fd N was opened on, as the kernel's magic links do. */
  private resolveFdLink(p: string): string {
    const m = /^\/proc\/self\/fd\/(\d+)$/.exec(p);
    if (!m) return path.resolve(p);
    const target = this.fdPaths.get(Number(m[1]));
    return target !== undefined && this.fds.includes(Number(m[1])) ? target : path.resolve(p);
  }

  private record(op: string, args: unknown[], subject?: string): void {
    this.calls.push({ op, args });
    for (const key of subject !== undefined ? [`${op}:${subject}`, op] : [op]) {
      const errno = this.failures.get(key);
      if (errno !== undefined) {
        this.failures.delete(key);
        throw new SysError(op, errno, subject);
      }
    }
  }

  unshare(flags: number): void {
    this.record('unshare', [flags]);
  }
  setns(fd: number, nstype: number): void {
    this.record('setns', [fd, nstype]);
  }
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void {
    this.record('mount', [source, target, fstype, flags, data], target);
    this.mountTable.push({
      source: source !== null && PROC_FD.test(source) ? this.resolveMagic(source) : source,
      target: this.resolveMagic(target),
      fstype,
      flags,
      data,
    });
  }
  /** /proc/self/fd/N as the fd's path (EBADF for an fd the fake did not open); other paths resolved. */
  resolveMagic(p: string): string {
    const m = PROC_FD.exec(p);
    if (!m) return path.resolve(p);
    const at = this.fdPaths.get(Number(m[1]));
    if (at === undefined) throw new SysError('readlink', 9 /* EBADF */, p);
    return at;
  }
  mountSetattr(dirfd: number, p: string, flags: number, attrSet: number, attrClear: number): void {
    this.record('mountSetattr', [dirfd, p, flags, attrSet, attrClear], p);
  }
  statfs(p: string): FsStat {
    this.record('statfs', [p], p);
    return this.fsStatOf(this.resolveMagic(p), 0);
  }
  fstatfs(fd: number): FsStat {
    this.record('fstatfs', [fd]);
    const p = this.fdPaths.get(fd);
    if (p === undefined) throw new SysError('fstatfs', 9, `fd ${fd}`);
    return this.fsStatOf(p, 0);
  }
  /** fsTypes first, then the latest mount covering `p` (a bind reports its source's filesystem), else ext4. */
  private fsStatOf(p: string, depth: number): FsStat {
    const covers = (t: string) => p === t || p.startsWith(t === '/' ? '/' : `${t}/`);
    let best: [string, FsStat] | undefined;
    for (const [t, st] of this.fsTypes) if (covers(t) && (!best || t.length > best[0].length)) best = [t, st];
    let mount: FakeMount | undefined;
    for (const m of this.mountTable) {
      if ((m.flags & (MS.REMOUNT | MS.PRIVATE | MS.SLAVE | MS.SHARED | MS.UNBINDABLE | MS.MOVE)) !== 0) continue;
      if (covers(m.target) && (!mount || m.target.length >= mount.target.length)) mount = m;
    }
    if (mount && (!best || mount.target.length >= best[0].length)) {
      if ((mount.flags & MS.BIND) !== 0 && mount.source !== null && depth < 8) return this.fsStatOf(path.resolve(mount.source), depth + 1);
      const type = mount.fstype !== null ? FAKE_FS_MAGIC[mount.fstype] : undefined;
      if (type !== undefined) return { type, flags: mount.flags & (MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC) };
    }
    return best ? { ...best[1] } : { type: FS_MAGIC.EXT4, flags: 0 };
  }
  umount(target: string, flags: number): void {
    this.record('umount', [target, flags], target);
  }
  pivotRoot(newRoot: string, putOld: string): void {
    this.record('pivotRoot', [newRoot, putOld]);
  }
  chroot(p: string): void {
    this.record('chroot', [p]);
  }
  chdir(p: string): void {
    this.record('chdir', [p], p);
    this.cwd = path.resolve(this.cwd, p);
  }
  getcwd(): string {
    this.record('getcwd', []);
    return this.cwdOverride ?? this.cwd;
  }
  fchdir(fd: number): void {
    this.record('fchdir', [fd]);
  }
  stat(p: string, followLinks = false): FileKind | undefined {
    const n = this.files.get(followLinks ? this.resolveFdLink(p) : path.resolve(p));
    return n ? { kind: n.kind, mode: n.mode, uid: n.uid, gid: n.gid, rdev: n.rdev } : undefined;
  }
  mkdirAll(p: string, mode: number): void {
    const abs = path.resolve(p);
    const existing = this.files.get(abs);
    if (existing) {
      if (existing.kind !== 'dir') throw new SysError('mkdir', 20, abs);
      return;
    }
    this.mkdirAll(path.dirname(abs), mode);
    this.files.set(abs, { kind: 'dir', mode, uid: 0, gid: 0, rdev: 0 });
    this.calls.push({ op: 'mkdir', args: [abs, mode] });
  }
  writeFile(p: string, data: string): void {
    this.record('writeFile', [p, data], p);
    const existing = this.files.get(path.resolve(p));
    this.files.set(path.resolve(p), { ...(existing ?? { kind: 'file', mode: 0o644, uid: 0, gid: 0, rdev: 0 }), content: data });
  }
  readFile(p: string): string {
    const n = this.files.get(path.resolve(p));
    if (!n || n.kind !== 'file') throw new SysError('open', 2, p);
    return n.content ?? '';
  }
  createFile(p: string, mode: number): void {
    this.record('createFile', [p, mode], p);
    if (!this.files.has(path.resolve(p))) this.files.set(path.resolve(p), { kind: 'file', mode, uid: 0, gid: 0, rdev: 0, content: '' });
  }
  symlink(target: string, p: string): void {
    this.record('symlink', [target, p], p);
    if (this.files.has(path.resolve(p))) throw new SysError('symlink', 17, p);
    this.files.set(path.resolve(p), { kind: 'symlink', mode: 0o777, uid: 0, gid: 0, rdev: 0, target });
  }
  unlink(p: string): void {
    this.record('unlink', [p], p);
    if (!this.files.delete(path.resolve(p))) throw new SysError('unlink', 2, p);
  }
  mknod(p: string, mode: number, major: number, minor: number): void {
    this.record('mknod', [p, mode, major, minor], p);
    this.files.set(path.resolve(p), { kind: 'chr', mode: mode & 0o7777, uid: 0, gid: 0, rdev: major * 256 + minor });
  }
  chown(p: string, uid: number, gid: number): void {
    this.record('chown', [p, uid, gid], p);
  }
  chmod(p: string, mode: number): void {
    this.record('chmod', [p, mode], p);
  }
  realpath(p: string): string {
    return path.resolve(p);
  }
  readlink(p: string): string {
    const fdLink = /^\/proc\/self\/fd\/(\d+)$/.exec(p);
    if (fdLink) {
      const fd = Number(fdLink[1]);
      if (!this.fds.includes(fd)) throw new SysError('readlink', 2, p);
      return this.fdPaths.get(fd) ?? `pipe:[${fd}]`;
    }
    if (PROC_FD.test(p)) return this.resolveMagic(p);
    const n = this.files.get(path.resolve(p));
    if (!n || n.kind !== 'symlink') throw new SysError('readlink', 22, p);
    return n.target ?? '';
  }
  lsetxattr(p: string, name: string, value: Buffer): void {
    this.record('lsetxattr', [p, name, Buffer.from(value)], p);
    const n = this.files.get(path.resolve(p));
    if (!n) throw new SysError('lsetxattr', 2, p);
    (n.xattrs ??= new Map()).set(name, Buffer.from(value));
  }
  lgetxattr(p: string, name: string): Buffer | undefined {
    const n = this.files.get(path.resolve(p));
    if (!n) throw new SysError('lgetxattr', 2, p);
    return n.xattrs?.get(name);
  }
  llistxattr(p: string): string[] {
    const n = this.files.get(path.resolve(p));
    if (!n) throw new SysError('llistxattr', 2, p);
    return [...(n.xattrs?.keys() ?? [])];
  }
  ptyUnlock(masterFd: number): void {
    this.record('ptyUnlock', [masterFd]);
  }
  open(p: string, flags: number, mode = 0): number {
    this.record('open', [p, flags, mode], p);
    const target = this.resolveFdLink(p);
    const fd = this.newFd();
    this.fdPaths.set(fd, target);
    return fd;
  }
  /**
   * With O_NOFOLLOW the fake behaves like the kernel for one lookup below a known fd (ENOENT,
   * ELOOP on a symlink unless O_PATH, ENOTDIR, O_CREAT): that is what the confined walk uses.
   * Without it, any path "opens", as the init tests expect of their state directory.
   */
  openat(dirfd: number, p: string, flags: number, mode = 0): number {
    this.record('openat', [dirfd, p, flags, mode], p);
    const base = this.fdPaths.get(dirfd);
    const full = base !== undefined ? path.resolve(base, p) : undefined;
    if (full !== undefined && (flags & O.NOFOLLOW) !== 0) {
      let node = this.files.get(full);
      if (node && (flags & (O.CREAT | O.EXCL)) === (O.CREAT | O.EXCL)) throw new SysError('openat', 17 /* EEXIST */, p);
      if (!node) {
        const parent = this.files.get(path.dirname(full));
        if ((flags & O.CREAT) === 0 || parent?.kind !== 'dir') throw new SysError('openat', 2, p);
        node = { kind: 'file', mode: mode & 0o7777, uid: 0, gid: 0, rdev: 0, content: '' };
        this.files.set(full, node);
      } else if (node.kind === 'symlink' && (flags & O.PATH) === 0) {
        throw new SysError('openat', 40 /* ELOOP */, p);
      }
      if ((flags & O.DIRECTORY) !== 0 && node.kind !== 'dir') throw new SysError('openat', 20, p);
    }
    const fd = this.newFd();
    if (full !== undefined) this.fdPaths.set(fd, full);
    return fd;
  }
  /** The fake kernel has no openat2 unless a test sets `openat2Errno` to 0 and handles it itself. */
  openat2Errno = 38; // ENOSYS: the confined resolver falls back to its walk
  openat2(dirfd: number, p: string, flags: number, mode: number, resolve: number): number {
    this.record('openat2', [dirfd, p, flags, mode, resolve], p);
    throw new SysError('openat2', this.openat2Errno, p);
  }
  fstat(fd: number): FileKind {
    const p = this.fdPaths.get(fd);
    const n = p !== undefined ? this.files.get(p) : undefined;
    if (!n) throw new SysError('fstat', 9 /* EBADF */, `fd ${fd}`);
    return { kind: n.kind, mode: n.mode, uid: n.uid, gid: n.gid, rdev: n.rdev };
  }
  readlinkat(dirfd: number, p: string): string {
    const base = this.fdPaths.get(dirfd);
    if (base === undefined) throw new SysError('readlinkat', 9, p);
    const n = this.files.get(p === '' ? base : path.resolve(base, p));
    if (!n || n.kind !== 'symlink') throw new SysError('readlinkat', n ? 22 : 2, p);
    return n.target ?? '';
  }
  mkdirat(dirfd: number, p: string, mode: number): void {
    this.record('mkdirat', [dirfd, p, mode], p);
    const base = this.fdPaths.get(dirfd);
    if (base === undefined) throw new SysError('mkdirat', 9, p);
    const full = path.resolve(base, p);
    if (this.files.has(full)) throw new SysError('mkdirat', 17, p);
    if (this.files.get(path.dirname(full))?.kind !== 'dir') throw new SysError('mkdirat', 2, p);
    this.files.set(full, { kind: 'dir', mode, uid: 0, gid: 0, rdev: 0 });
  }
  private newFd(): number {
    const fd = this.nextFd++;
    this.fds.push(fd);
    return fd;
  }
  /** The tree path `p` names below `dirfd` ("" is the fd itself); EBADF for an fd the fake does not know. */
  private at(op: string, dirfd: number, p: string): string {
    const base = this.fdPaths.get(dirfd);
    if (base === undefined) throw new SysError(op, 9 /* EBADF */, p || `fd ${dirfd}`);
    return p === '' ? base : path.resolve(base, p);
  }
  private nodeAt(op: string, dirfd: number, p: string): { full: string; node: FakeNode } {
    const full = this.at(op, dirfd, p);
    const node = this.files.get(full);
    if (!node) throw new SysError(op, 2 /* ENOENT */, p);
    return { full, node };
  }
  private create(op: string, dirfd: number, p: string, node: FakeNode): void {
    const full = this.at(op, dirfd, p);
    if (this.files.has(full)) throw new SysError(op, 17 /* EEXIST */, p);
    if (this.files.get(path.dirname(full))?.kind !== 'dir') throw new SysError(op, 2, p);
    this.files.set(full, node);
  }
  fstatat(dirfd: number, p: string, followLinks = false): FileKind | undefined {
    const full = this.at('fstatat', dirfd, p);
    let n = this.files.get(full);
    if (n?.kind === 'symlink' && followLinks) n = this.files.get(path.resolve(path.dirname(full), n.target ?? ''));
    return n ? { kind: n.kind, mode: n.mode, uid: n.uid, gid: n.gid, rdev: n.rdev } : undefined;
  }
  unlinkat(dirfd: number, p: string, flags: number): void {
    this.record('unlinkat', [dirfd, p, flags], p);
    const { full, node } = this.nodeAt('unlinkat', dirfd, p);
    if ((flags & AT.REMOVEDIR) !== 0) {
      if (node.kind !== 'dir') throw new SysError('unlinkat', 20 /* ENOTDIR */, p);
      if ([...this.files.keys()].some((k) => path.dirname(k) === full && k !== full)) throw new SysError('unlinkat', 39 /* ENOTEMPTY */, p);
    } else if (node.kind === 'dir') {
      throw new SysError('unlinkat', 21 /* EISDIR */, p);
    }
    this.files.delete(full);
  }
  symlinkat(target: string, dirfd: number, p: string): void {
    this.record('symlinkat', [target, dirfd, p], p);
    this.create('symlinkat', dirfd, p, { kind: 'symlink', mode: 0o777, uid: 0, gid: 0, rdev: 0, target });
  }
  mknodat(dirfd: number, p: string, mode: number, major: number, minor: number): void {
    this.record('mknodat', [dirfd, p, mode, major, minor], p);
    const kind = fileKindOfMode(mode);
    this.create('mknodat', dirfd, p, { kind, mode: mode & 0o7777, uid: 0, gid: 0, rdev: major * 256 + minor, ...(kind === 'file' ? { content: '' } : {}) });
  }
  linkat(olddirfd: number, oldpath: string, newdirfd: number, newpath: string, flags: number): void {
    this.record('linkat', [olddirfd, oldpath, newdirfd, newpath, flags], newpath);
    const { node } = this.nodeAt('linkat', olddirfd, oldpath);
    if (node.kind === 'dir') throw new SysError('linkat', 1 /* EPERM */, oldpath);
    // the same object under two names: a hard link
    this.create('linkat', newdirfd, newpath, node);
  }
  fchownat(dirfd: number, p: string, uid: number, gid: number, flags: number): void {
    this.record('fchownat', [dirfd, p, uid, gid, flags], p);
    if (p === '' && (flags & AT.EMPTY_PATH) === 0) throw new SysError('fchownat', 2, p);
    const { node } = this.nodeAt('fchownat', dirfd, p);
    node.uid = uid;
    node.gid = gid;
  }
  fchmod(fd: number, mode: number): void {
    this.record('fchmod', [fd, mode]);
    const { node } = this.nodeAt('fchmod', fd, '');
    if (node.kind === 'symlink') throw new SysError('fchmod', 95 /* EOPNOTSUPP */, `fd ${fd}`);
    node.mode = mode & 0o7777;
  }
  utimensat(dirfd: number, p: string, atime: number, mtime: number, flags: number): void {
    this.record('utimensat', [dirfd, p, atime, mtime, flags], p);
    if (p === '' && (flags & AT.EMPTY_PATH) === 0) throw new SysError('utimensat', 2, p);
    const { node } = this.nodeAt('utimensat', dirfd, p);
    node.atime = atime;
    node.mtime = mtime;
  }
  fsetxattr(fd: number, name: string, value: Buffer): void {
    this.record('fsetxattr', [fd, name, Buffer.from(value)]);
    const { node } = this.nodeAt('fsetxattr', fd, '');
    (node.xattrs ??= new Map()).set(name, Buffer.from(value));
  }
  fgetxattr(fd: number, name: string): Buffer | undefined {
    return this.nodeAt('getxattr', fd, '').node.xattrs?.get(name);
  }
  flistxattr(fd: number): string[] {
    return [...(this.nodeAt('listxattr', fd, '').node.xattrs?.keys() ?? [])];
  }
  readdirFd(fd: number): string[] {
    const { full, node } = this.nodeAt('readdir', fd, '');
    if (node.kind !== 'dir') throw new SysError('readdir', 20, `fd ${fd}`);
    return [...this.files.keys()].filter((k) => k !== full && path.dirname(k) === full).map((k) => path.basename(k));
  }
  /** A node of the tree as the fake holds it (times and xattrs included), for assertions. */
  node(p: string): Readonly<FakeNode> | undefined {
    return this.files.get(path.resolve(p));
  }
  close(fd: number): void {
    this.record('close', [fd]);
    this.fds = this.fds.filter((f) => f !== fd);
    this.fdPaths.delete(fd);
    this.bpfFds.delete(fd);
    this.offsets.delete(fd);
  }
  dup2(oldfd: number, newfd: number): void {
    this.record('dup2', [oldfd, newfd]);
  }
  setCloexec(fd: number, on: boolean): void {
    this.record('setCloexec', [fd, on]);
  }
  listFds(): number[] {
    return [...this.fds];
  }
  closeFrom(first: number, cloexecOnly: boolean): void {
    this.record('closeFrom', [first, cloexecOnly]);
    if (!cloexecOnly) this.fds = this.fds.filter((f) => f < first);
  }
  write(fd: number, data: string | Buffer): number {
    this.record('write', [fd, data.toString()]);
    return data.length;
  }
  /** Read offsets of fds opened on files of the tree. */
  private readonly offsets = new Map<number, number>();
  /** A regular file of the tree is read from its content; any other fd reads as empty. */
  read(fd: number, size: number): Buffer {
    this.record('read', [fd]);
    const p = this.fdPaths.get(fd);
    const n = p !== undefined ? this.files.get(p) : undefined;
    if (n?.kind !== 'file') return Buffer.alloc(0);
    const all = Buffer.from(n.content ?? '');
    const off = this.offsets.get(fd) ?? 0;
    const out = all.subarray(off, off + size);
    this.offsets.set(fd, off + out.length);
    return out;
  }
  pipe(): [number, number] {
    this.record('pipe', []);
    return [this.newFd(), this.newFd()];
  }
  reap(pid: number): number | undefined {
    this.record('reap', [pid]);
    return 0;
  }
  setsid(): number {
    this.record('setsid', []);
    return this.pid;
  }
  ioctlInt(fd: number, request: number, value: number): number {
    this.record('ioctl', [fd, request, value]);
    return 0;
  }
  ptsNumber(masterFd: number): number {
    this.record('ptsNumber', [masterFd]);
    return 0;
  }
  setWinsize(fd: number, rows: number, cols: number): void {
    this.record('setWinsize', [fd, rows, cols]);
  }
  connectUnix(p: string): number {
    this.record('connectUnix', [p], p);
    return this.newFd();
  }
  sendFd(socketFd: number, fd: number, payload: string): void {
    this.record('sendFd', [socketFd, fd, payload]);
  }
  listenUnix(p: string): number {
    this.record('listenUnix', [p], p);
    return this.nextFd++;
  }
  acceptAsync(listenFd: number): Promise<number> {
    this.record('accept', [listenFd]);
    return Promise.resolve(this.nextFd++);
  }
  recvFd(socketFd: number): { fd: number; payload: string } {
    this.record('recvFd', [socketFd]);
    return { fd: this.newFd(), payload: '' };
  }
  socketpair(): [number, number] {
    this.record('socketpair', []);
    return [this.newFd(), this.newFd()];
  }
  recvFdAsync(socketFd: number): Promise<{ fd: number; payload: string }> {
    this.record('recvFd', [socketFd]);
    return Promise.resolve({ fd: this.nextFd++, payload: '' });
  }
  getpid(): number {
    return this.pid;
  }
  sethostname(name: string): void {
    this.record('sethostname', [name]);
  }
  setdomainname(name: string): void {
    this.record('setdomainname', [name]);
  }
  prctl(option: number, a2 = 0, a3 = 0, a4 = 0, a5 = 0): number {
    this.record('prctl', [option, a2, a3, a4, a5], String(option));
    // The kernel raises an ambient capability only if it is both permitted and inheritable.
    if (option === PR.CAP_AMBIENT && a2 === PR.CAP_AMBIENT_RAISE) {
      const bit = 1n << BigInt(a3);
      if ((this.caps.permitted & this.caps.inheritable & bit) === 0n) throw new SysError('prctl', 1, String(option));
    }
    return 0;
  }
  mallocTrim(): void {
    this.record('mallocTrim', []);
  }
  capget(): CapabilitySets {
    this.record('capget', []);
    return { ...this.caps };
  }
  capset(sets: CapabilitySets): void {
    this.record('capset', [sets]);
    this.caps = { ...sets };
  }
  setgroups(gids: number[]): void {
    this.record('setgroups', [gids]);
  }
  setresgid(gid: number): void {
    this.record('setresgid', [gid]);
  }
  setresuid(uid: number): void {
    this.record('setresuid', [uid]);
  }
  setrlimit(resource: number, soft: bigint, hard: bigint): void {
    this.record('setrlimit', [resource, soft, hard]);
  }
  umask(mask: number): number {
    this.record('umask', [mask]);
    return 0o022;
  }
  resetSignals(): void {
    this.record('resetSignals', []);
  }
  kill(pid: number, signal: number): void {
    this.record('kill', [pid, signal]);
  }
  seccompLoad(filter: SeccompFilter): number | undefined {
    this.record('seccompLoad', [filter]);
    return filter.rules.some((r) => r.action === 'SCMP_ACT_NOTIFY') ? this.nextFd++ : undefined;
  }
  /** The "program" is the filter's JSON, so a test can tell which filter a compiled load carries. */
  seccompCompile(filter: SeccompFilter): CompiledSeccomp | undefined {
    this.record('seccompCompile', [filter]);
    const json = JSON.stringify(filter, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    return { program: Buffer.from(json).toString('base64'), flags: 0, notify: filter.rules.some((r) => r.action === 'SCMP_ACT_NOTIFY') };
  }
  seccompLoadCompiled(compiled: CompiledSeccomp): number | undefined {
    this.record('seccompLoadCompiled', [compiled]);
    return compiled.notify ? this.nextFd++ : undefined;
  }

  /** Programs attached at `p` (an opened path) for `attachType`, oldest first. */
  bpfAttachedAt(p: string, attachType: number): FakeBpfProgram[] {
    return (this.bpfAttached.get(path.resolve(p)) ?? []).filter((a) => a.attachType === attachType).map((a) => this.bpfPrograms.get(a.id)!);
  }
  /** fds handed out for BPF programs and not closed yet. */
  openBpfFds(): number[] {
    return [...this.bpfFds.keys()];
  }
  bpfProgLoad(prog: BpfProgram): number {
    this.record('bpfProgLoad', [prog], prog.name);
    const id = this.nextBpfId++;
    this.bpfPrograms.set(id, { ...prog, insns: Buffer.from(prog.insns), id });
    this.bpfFds.set(this.nextFd, id);
    return this.nextFd++;
  }
  bpfProgAttach(targetFd: number, progFd: number, attachType: number, flags: number): void {
    const target = this.fdPaths.get(targetFd);
    this.record('bpfProgAttach', [target ?? targetFd, this.bpfFds.get(progFd) ?? progFd, attachType, flags], target);
    const id = this.bpfFds.get(progFd);
    if (target === undefined || id === undefined) throw new SysError('bpf(BPF_PROG_ATTACH)', 9 /* EBADF */);
    const list = this.bpfAttached.get(target) ?? [];
    if (list.some((a) => a.id === id && a.attachType === attachType)) throw new SysError('bpf(BPF_PROG_ATTACH)', 17 /* EEXIST */);
    list.push({ id, attachType, flags });
    this.bpfAttached.set(target, list);
  }
  bpfProgDetach(targetFd: number, progFd: number, attachType: number): void {
    const target = this.fdPaths.get(targetFd);
    this.record('bpfProgDetach', [target ?? targetFd, this.bpfFds.get(progFd) ?? progFd, attachType], target);
    const id = this.bpfFds.get(progFd);
    if (target === undefined || id === undefined) throw new SysError('bpf(BPF_PROG_DETACH)', 9 /* EBADF */);
    const list = this.bpfAttached.get(target) ?? [];
    const i = list.findIndex((a) => a.id === id && a.attachType === attachType);
    if (i < 0) throw new SysError('bpf(BPF_PROG_DETACH)', 2 /* ENOENT */);
    list.splice(i, 1);
  }
  bpfProgQuery(targetFd: number, attachType: number): number[] {
    const target = this.fdPaths.get(targetFd);
    this.record('bpfProgQuery', [target ?? targetFd, attachType], target);
    if (target === undefined) throw new SysError('bpf(BPF_PROG_QUERY)', 9 /* EBADF */);
    return (this.bpfAttached.get(target) ?? []).filter((a) => a.attachType === attachType).map((a) => a.id);
  }
  bpfProgGetFdById(id: number): number {
    this.record('bpfProgGetFdById', [id], String(id));
    if (!this.bpfPrograms.has(id)) throw new SysError('bpf(BPF_PROG_GET_FD_BY_ID)', 2 /* ENOENT */);
    this.bpfFds.set(this.nextFd, id);
    return this.nextFd++;
  }
  execve(p: string, argv: string[], env: string[]): never {
    this.record('execve', [p, argv, env], p);
    throw new FakeExecve(p, argv, env);
  }
  fsopen(fsName: string): number {
    this.record('fsopen', [fsName], fsName);
    return this.nextFd++;
  }
  fsconfigString(fsFd: number, key: string, value: string): void {
    this.record('fsconfigString', [fsFd, key, value], key);
  }
  fsconfigCreate(fsFd: number): void {
    this.record('fsconfigCreate', [fsFd]);
  }
  fsmount(fsFd: number, attrs: number): number {
    this.record('fsmount', [fsFd, attrs]);
    return this.nextFd++;
  }
  openTreeClone(dirfd: number, p: string, flags: number): number {
    this.record('openTreeClone', [dirfd, p, flags], p);
    const fd = this.newFd();
    // the clone's root is what the path names (absolute paths, as the runtime passes)
    this.fdPaths.set(fd, p);
    return fd;
  }
  moveMountFd(fromFd: number, toPath: string): void {
    this.record('moveMountFd', [fromFd, toPath], toPath);
  }
  memfdCreate(name: string, flags: number): number {
    this.record('memfdCreate', [name, flags], name);
    return this.nextFd++;
  }
  sendfile(outFd: number, inFd: number, count: number): number {
    this.record('sendfile', [outFd, inFd, count]);
    return Math.min(count, this.sendfileResults.shift() ?? 0);
  }
  fcntlInt(fd: number, cmd: number, arg: number): number {
    this.record('fcntlInt', [fd, cmd, arg], String(cmd));
    if (cmd !== F.DUPFD_CLOEXEC) return 0;
    // like the kernel: the lowest free number at or above `arg`
    const dup = Math.max(arg, this.nextFd);
    this.nextFd = dup + 1;
    return dup;
  }
  spawn(req: SpawnRequest): number {
    this.record('spawn', [req], req.path);
    return this.spawnPid;
  }
  exitNow(code: number): never {
    this.record('exitNow', [code]);
    throw new FakeExit(code);
  }
}
