import * as path from 'node:path';
import { PR } from './constants';
import { SysError } from './errors';
import type { CapabilitySets, FileKind, SeccompFilter, Sys } from './sys';

export interface SysCall {
  op: string;
  args: unknown[];
}

interface FakeNode extends FileKind {
  content?: string;
  target?: string;
  xattrs?: Map<string, Buffer>;
}

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

/**
 * A recording fake of the kernel seam: keeps an in-memory file tree and a call log, so init and
 * rootfs logic can be unit-tested without root. `failOn` makes a chosen call fail with an errno.
 */
export class FakeSys implements Sys {
  readonly calls: SysCall[] = [];
  readonly files = new Map<string, FakeNode>();
  caps: CapabilitySets = { effective: (1n << 41n) - 1n, permitted: (1n << 41n) - 1n, inheritable: 0n };
  private nextFd = 10;
  private readonly failures = new Map<string, number>();
  pid = 1;

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

  unshare(flags: number): void { this.record('unshare', [flags]); }
  setns(fd: number, nstype: number): void { this.record('setns', [fd, nstype]); }
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void {
    this.record('mount', [source, target, fstype, flags, data], target);
  }
  umount(target: string, flags: number): void { this.record('umount', [target, flags], target); }
  pivotRoot(newRoot: string, putOld: string): void { this.record('pivotRoot', [newRoot, putOld]); }
  chroot(p: string): void { this.record('chroot', [p]); }
  chdir(p: string): void {
    this.record('chdir', [p], p);
  }
  fchdir(fd: number): void { this.record('fchdir', [fd]); }
  stat(p: string): FileKind | undefined {
    const n = this.files.get(path.resolve(p));
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
  chown(p: string, uid: number, gid: number): void { this.record('chown', [p, uid, gid], p); }
  chmod(p: string, mode: number): void { this.record('chmod', [p, mode], p); }
  realpath(p: string): string { return path.resolve(p); }
  readlink(p: string): string {
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
  ptyUnlock(masterFd: number): void { this.record('ptyUnlock', [masterFd]); }
  open(p: string, flags: number, mode = 0): number {
    this.record('open', [p, flags, mode], p);
    return this.nextFd++;
  }
  openat(dirfd: number, p: string, flags: number, mode = 0): number {
    this.record('openat', [dirfd, p, flags, mode], p);
    return this.nextFd++;
  }
  close(fd: number): void { this.record('close', [fd]); }
  dup2(oldfd: number, newfd: number): void { this.record('dup2', [oldfd, newfd]); }
  setCloexec(fd: number, on: boolean): void { this.record('setCloexec', [fd, on]); }
  listFds(): number[] { return [0, 1, 2]; }
  write(fd: number, data: string | Buffer): number {
    this.record('write', [fd, data.toString()]);
    return data.length;
  }
  read(fd: number, _size: number): Buffer {
    this.record('read', [fd]);
    return Buffer.alloc(0);
  }
  pipe(): [number, number] {
    this.record('pipe', []);
    return [this.nextFd++, this.nextFd++];
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
  setWinsize(fd: number, rows: number, cols: number): void { this.record('setWinsize', [fd, rows, cols]); }
  connectUnix(p: string): number {
    this.record('connectUnix', [p], p);
    return this.nextFd++;
  }
  sendFd(socketFd: number, fd: number, payload: string): void { this.record('sendFd', [socketFd, fd, payload]); }
  listenUnix(p: string): number {
    this.record('listenUnix', [p], p);
    return this.nextFd++;
  }
  acceptAsync(listenFd: number): Promise<number> {
    this.record('accept', [listenFd]);
    return Promise.resolve(this.nextFd++);
  }
  recvFdAsync(socketFd: number): Promise<{ fd: number; payload: string }> {
    this.record('recvFd', [socketFd]);
    return Promise.resolve({ fd: this.nextFd++, payload: '' });
  }
  getpid(): number { return this.pid; }
  sethostname(name: string): void { this.record('sethostname', [name]); }
  setdomainname(name: string): void { this.record('setdomainname', [name]); }
  prctl(option: number, a2 = 0, a3 = 0, a4 = 0, a5 = 0): number {
    this.record('prctl', [option, a2, a3, a4, a5], String(option));
    // The kernel raises an ambient capability only if it is both permitted and inheritable.
    if (option === PR.CAP_AMBIENT && a2 === PR.CAP_AMBIENT_RAISE) {
      const bit = 1n << BigInt(a3);
      if ((this.caps.permitted & this.caps.inheritable & bit) === 0n) throw new SysError('prctl', 1, String(option));
    }
    return 0;
  }
  capget(): CapabilitySets {
    this.record('capget', []);
    return { ...this.caps };
  }
  capset(sets: CapabilitySets): void {
    this.record('capset', [sets]);
    this.caps = { ...sets };
  }
  setgroups(gids: number[]): void { this.record('setgroups', [gids]); }
  setresgid(gid: number): void { this.record('setresgid', [gid]); }
  setresuid(uid: number): void { this.record('setresuid', [uid]); }
  setrlimit(resource: number, soft: bigint, hard: bigint): void { this.record('setrlimit', [resource, soft, hard]); }
  umask(mask: number): number {
    this.record('umask', [mask]);
    return 0o022;
  }
  resetSignals(): void { this.record('resetSignals', []); }
  kill(pid: number, signal: number): void { this.record('kill', [pid, signal]); }
  seccompLoad(filter: SeccompFilter): void { this.record('seccompLoad', [filter]); }
  execve(p: string, argv: string[], env: string[]): never {
    this.record('execve', [p, argv, env], p);
    throw new FakeExecve(p, argv, env);
  }
}
