import * as fs from 'node:fs';
import * as path from 'node:path';
import { libc } from './libc';
import { SysError } from './errors';
import { AT, F, FD_CLOEXEC, O } from './constants';
import type { BpfProgram, CapabilitySets, CompiledSeccomp, FileKind, FsStat, SeccompFilter, SpawnRequest, Sys } from './sys';
import { compileSeccompFilter, loadSeccompFilter, loadSeccompProgram } from './seccomp';
import * as bpf from './bpf';
import { fileKindOfMode } from './file-kind';

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
const LINUX_CAPABILITY_VERSION_3 = 0x20080522;

const MSG_CMSG_CLOEXEC = 0x40000000;
const FSOPEN_CLOEXEC = 0x1;
const FSMOUNT_CLOEXEC = 0x1;
const OPEN_TREE_CLONE = 0x1;
const MOVE_MOUNT_F_EMPTY_PATH = 0x4;
const MOVE_MOUNT_T_SYMLINKS = 0x10;
const FSCONFIG_SET_STRING = 1;
const FSCONFIG_CMD_CREATE = 6;
const CLOSE_RANGE_CLOEXEC = 4;
const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
const POSIX_SPAWN_SETSID = 0x80;
/** Larger than glibc's posix_spawn_file_actions_t (80 bytes) and posix_spawnattr_t (336 bytes). */
const SPAWN_STRUCT_SIZE = 1024;
const ENODATA = 61;
const ERANGE = 34;

/** struct sockaddr_un for `p`; closes `fd` and throws when the path does not fit. */
function unixAddress(p: string, fd: number): Buffer {
  const bytes = Buffer.from(p);
  if (bytes.length > 107) {
    libc().close(fd);
    throw new SysError('connect', 36 /* ENAMETOOLONG */, p);
  }
  const addr = Buffer.alloc(2 + bytes.length + 1);
  addr.writeUInt16LE(AF_UNIX, 0);
  bytes.copy(addr, 2);
  return addr;
}

function check(ret: number, syscall: string, subject?: string): number {
  if (ret < 0) throw new SysError(syscall, libc().errno(), subject);
  return ret;
}

function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  return ((ma & 0xfffn) << 8n) | ((ma & ~0xfffn) << 32n) | (mi & 0xffn) | ((mi & ~0xffn) << 12n);
}

/** struct statfs on 64-bit Linux (x86_64 and aarch64): eleven 8-byte words, then f_spare[4]. */
const STATFS_SIZE = 120;
function fsStat(buf: Buffer): FsStat {
  // f_type at 0, f_flags at 80 (after bsize, blocks, bfree, bavail, files, ffree, fsid, namelen, frsize)
  return { type: Number(buf.readBigInt64LE(0)), flags: Number(buf.readBigInt64LE(80)) };
}

const STATX_BASIC_STATS = 0x7ff;

function makedevNumber(major: number, minor: number): number {
  return Number(makedev(major, minor));
}

/** struct timespec from seconds with a fraction; the nanoseconds are rounded, never to 1e9. */
function writeTimespec(buf: Buffer, off: number, seconds: number): void {
  let sec = Math.floor(seconds);
  let nsec = Math.round((seconds - sec) * 1e9);
  if (nsec >= 1e9) {
    sec += 1;
    nsec -= 1e9;
  }
  buf.writeBigInt64LE(BigInt(sec), off);
  buf.writeBigInt64LE(BigInt(nsec), off + 8);
}

/** An xattr's value: size first, then the value, again when it grew between the two calls (ERANGE). */
function getXattr(op: string, call: (buf: Buffer | null, size: number) => number, subject: string): Buffer | undefined {
  for (;;) {
    const size = call(null, 0);
    if (size < 0) {
      if (libc().errno() === ENODATA) return undefined;
      throw new SysError(op, libc().errno(), subject);
    }
    const buf = Buffer.alloc(size);
    if (size === 0) return buf;
    const n = call(buf, size);
    if (n >= 0) return buf.subarray(0, n);
    if (libc().errno() === ENODATA) return undefined;
    if (libc().errno() !== ERANGE) throw new SysError(op, libc().errno(), subject);
  }
}

/** The names of a file's xattrs (NUL-separated in the kernel's answer), retried on ERANGE. */
function listXattr(op: string, call: (buf: Buffer | null, size: number) => number, subject: string): string[] {
  for (;;) {
    const size = check(call(null, 0), op, subject);
    if (size === 0) return [];
    const buf = Buffer.alloc(size);
    const n = call(buf, size);
    if (n < 0) {
      if (libc().errno() === ERANGE) continue;
      throw new SysError(op, libc().errno(), subject);
    }
    return buf
      .subarray(0, n)
      .toString()
      .split('\0')
      .filter((s) => s.length > 0);
  }
}

/** The real kernel, through glibc and koffi. */
export class LinuxSys implements Sys {
  unshare(flags: number): void {
    check(libc().unshare(flags), 'unshare', `0x${flags.toString(16)}`);
  }
  setns(fd: number, nstype: number): void {
    check(libc().setns(fd, nstype), 'setns', `fd ${fd}`);
  }
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void {
    check(libc().mount(source, target, fstype, flags, data), 'mount', `${source ?? 'none'} on ${target}`);
  }
  umount(target: string, flags: number): void {
    check(libc().umount2(target, flags), 'umount', target);
  }
  pivotRoot(newRoot: string, putOld: string): void {
    check(libc().pivot_root(newRoot, putOld), 'pivot_root', newRoot);
  }
  chroot(p: string): void {
    check(libc().chroot(p), 'chroot', p);
  }
  chdir(p: string): void {
    check(libc().chdir(p), 'chdir', p);
  }
  fchdir(fd: number): void {
    check(libc().fchdir(fd), 'fchdir');
  }
  getcwd(): string {
    const buf = Buffer.alloc(4096);
    const n = check(libc().getcwd(buf, buf.length), 'getcwd');
    // the kernel counts the terminating NUL
    return buf.subarray(0, Math.max(0, n - 1)).toString();
  }
  mountSetattr(dirfd: number, p: string, flags: number, attrSet: number, attrClear: number): void {
    const attr = Buffer.alloc(32); // struct mount_attr: attr_set, attr_clr, propagation, userns_fd
    attr.writeBigUInt64LE(BigInt(attrSet), 0);
    attr.writeBigUInt64LE(BigInt(attrClear), 8);
    check(libc().mount_setattr(dirfd, p, flags, attr), 'mount_setattr', p);
  }
  statfs(p: string): FsStat {
    const buf = Buffer.alloc(STATFS_SIZE);
    check(libc().statfs(p, buf), 'statfs', p);
    return fsStat(buf);
  }
  fstatfs(fd: number): FsStat {
    const buf = Buffer.alloc(STATFS_SIZE);
    check(libc().fstatfs(fd, buf), 'fstatfs', `fd ${fd}`);
    return fsStat(buf);
  }
  stat(p: string, followLinks = false): FileKind | undefined {
    try {
      const st = followLinks ? fs.statSync(p) : fs.lstatSync(p);
      return { kind: fileKindOfMode(st.mode), mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, rdev: st.rdev };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
      throw e;
    }
  }
  mkdirAll(p: string, mode: number): void {
    const st = this.stat(p, true);
    if (st) {
      if (st.kind !== 'dir') throw new SysError('mkdir', 20 /* ENOTDIR */, p);
      return;
    }
    const parent = path.dirname(p);
    if (parent !== p) this.mkdirAll(parent, mode);
    const ret = libc().mkdir(p, mode);
    if (ret < 0 && libc().errno() !== 17 /* EEXIST */) throw new SysError('mkdir', libc().errno(), p);
  }
  writeFile(p: string, data: string): void {
    fs.writeFileSync(p, data);
  }
  readFile(p: string): string {
    return fs.readFileSync(p, 'utf8');
  }
  createFile(p: string, mode: number): void {
    const fd = check(libc().open(p, 0o100 | 0o1 | 0o2000000, mode), 'open', p);
    libc().close(fd);
  }
  symlink(target: string, p: string): void {
    check(libc().symlink(target, p), 'symlink', p);
  }
  unlink(p: string): void {
    check(libc().unlink(p), 'unlink', p);
  }
  mknod(p: string, mode: number, major: number, minor: number): void {
    check(libc().mknod(p, mode, makedev(major, minor)), 'mknod', p);
  }
  chown(p: string, uid: number, gid: number): void {
    check(libc().chown(p, uid, gid), 'chown', p);
  }
  chmod(p: string, mode: number): void {
    check(libc().chmod(p, mode), 'chmod', p);
  }
  realpath(p: string): string {
    return fs.realpathSync(p);
  }
  readlink(p: string): string {
    return fs.readlinkSync(p);
  }
  lsetxattr(p: string, name: string, value: Buffer): void {
    check(libc().lsetxattr(p, name, value, value.length, 0), 'lsetxattr', `${p} ${name}`);
  }
  lgetxattr(p: string, name: string): Buffer | undefined {
    return getXattr('lgetxattr', (b, n) => libc().lgetxattr(p, name, b, n), `${p} ${name}`);
  }
  llistxattr(p: string): string[] {
    return listXattr('llistxattr', (b, n) => libc().llistxattr(p, b, n), p);
  }
  open(p: string, flags: number, mode = 0): number {
    return check(libc().open(p, flags, mode), 'open', p);
  }
  openat(dirfd: number, p: string, flags: number, mode = 0): number {
    return check(libc().openat(dirfd, p, flags, mode), 'openat', p);
  }
  openat2(dirfd: number, p: string, flags: number, mode: number, resolve: number): number {
    const how = Buffer.alloc(24);
    how.writeBigUInt64LE(BigInt(flags), 0);
    how.writeBigUInt64LE(BigInt(mode), 8);
    how.writeBigUInt64LE(BigInt(resolve), 16);
    return check(libc().openat2(dirfd, p, how), 'openat2', p);
  }
  fstat(fd: number): FileKind {
    const st = fs.fstatSync(fd);
    return { kind: fileKindOfMode(st.mode), mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, rdev: st.rdev };
  }
  readlinkat(dirfd: number, p: string): string {
    const buf = Buffer.alloc(4096);
    const n = check(libc().readlinkat(dirfd, p, buf, buf.length), 'readlinkat', p || `fd ${dirfd}`);
    return buf.subarray(0, n).toString();
  }
  mkdirat(dirfd: number, p: string, mode: number): void {
    check(libc().mkdirat(dirfd, p, mode), 'mkdirat', p);
  }
  fstatat(dirfd: number, p: string, followLinks = false): FileKind | undefined {
    // statx has one layout on every architecture, unlike struct stat
    const buf = Buffer.alloc(256);
    const flags = (followLinks ? 0 : AT.SYMLINK_NOFOLLOW) | (p === '' ? AT.EMPTY_PATH : 0);
    if (libc().statx(dirfd, p, flags, STATX_BASIC_STATS, buf) < 0) {
      const errno = libc().errno();
      if (errno === 2 /* ENOENT */ || errno === 20 /* ENOTDIR */) return undefined;
      throw new SysError('statx', errno, p || `fd ${dirfd}`);
    }
    const mode = buf.readUInt16LE(28);
    return {
      kind: fileKindOfMode(mode),
      mode: mode & 0o7777,
      uid: buf.readUInt32LE(20),
      gid: buf.readUInt32LE(24),
      rdev: makedevNumber(buf.readUInt32LE(128), buf.readUInt32LE(132)),
    };
  }
  unlinkat(dirfd: number, p: string, flags: number): void {
    check(libc().unlinkat(dirfd, p, flags), 'unlinkat', p);
  }
  symlinkat(target: string, dirfd: number, p: string): void {
    check(libc().symlinkat(target, dirfd, p), 'symlinkat', p);
  }
  mknodat(dirfd: number, p: string, mode: number, major: number, minor: number): void {
    check(libc().mknodat(dirfd, p, mode, makedev(major, minor)), 'mknodat', p);
  }
  linkat(olddirfd: number, oldpath: string, newdirfd: number, newpath: string, flags: number): void {
    check(libc().linkat(olddirfd, oldpath, newdirfd, newpath, flags), 'linkat', `${oldpath} -> ${newpath}`);
  }
  fchownat(dirfd: number, p: string, uid: number, gid: number, flags: number): void {
    check(libc().fchownat(dirfd, p, uid, gid, flags), 'fchownat', p || `fd ${dirfd}`);
  }
  fchmod(fd: number, mode: number): void {
    if (libc().fchmod(fd, mode) === 0) return;
    // EBADF: an O_PATH fd, which fchmod(2) does not take; its magic link names exactly that file
    if (libc().errno() !== 9) throw new SysError('fchmod', libc().errno(), `fd ${fd}`);
    check(libc().chmod(`/proc/self/fd/${fd}`, mode), 'chmod', `fd ${fd}`);
  }
  utimensat(dirfd: number, p: string, atime: number, mtime: number, flags: number): void {
    const times = Buffer.alloc(32);
    writeTimespec(times, 0, atime);
    writeTimespec(times, 16, mtime);
    check(libc().utimensat(dirfd, p, times, flags), 'utimensat', p || `fd ${dirfd}`);
  }
  fsetxattr(fd: number, name: string, value: Buffer): void {
    // fsetxattr(2) refuses O_PATH fds; setxattr on the magic link acts on the file itself, a symlink included
    check(libc().setxattr(`/proc/self/fd/${fd}`, name, value, value.length, 0), 'setxattr', `fd ${fd} ${name}`);
  }
  fgetxattr(fd: number, name: string): Buffer | undefined {
    return getXattr('getxattr', (b, n) => libc().getxattr(`/proc/self/fd/${fd}`, name, b, n), `fd ${fd} ${name}`);
  }
  flistxattr(fd: number): string[] {
    return listXattr('listxattr', (b, n) => libc().listxattr(`/proc/self/fd/${fd}`, b, n), `fd ${fd}`);
  }
  readdirFd(fd: number): string[] {
    return fs.readdirSync(`/proc/self/fd/${fd}`);
  }
  close(fd: number): void {
    check(libc().close(fd), 'close', `fd ${fd}`);
  }
  dup2(oldfd: number, newfd: number): void {
    if (oldfd === newfd) {
      this.setCloexec(newfd, false);
      return;
    }
    check(libc().dup3(oldfd, newfd, 0), 'dup3', `${oldfd}->${newfd}`);
  }
  setCloexec(fd: number, on: boolean): void {
    const cur = check(libc().fcntl(fd, F.GETFD, 0), 'fcntl', `fd ${fd}`);
    const next = on ? cur | FD_CLOEXEC : cur & ~FD_CLOEXEC;
    if (next !== cur) check(libc().fcntl(fd, F.SETFD, next), 'fcntl', `fd ${fd}`);
  }
  listFds(): number[] {
    return fs
      .readdirSync('/proc/self/fd')
      .map(Number)
      .filter((n) => Number.isInteger(n));
  }
  closeFrom(first: number, cloexecOnly: boolean): void {
    check(libc().close_range(first, 0xffffffff, cloexecOnly ? CLOSE_RANGE_CLOEXEC : 0), 'close_range', `from fd ${first}`);
  }
  write(fd: number, data: string | Buffer): number {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    return check(libc().write(fd, buf, buf.length), 'write', `fd ${fd}`);
  }
  read(fd: number, size: number): Buffer {
    const buf = Buffer.alloc(size);
    const n = check(libc().read(fd, buf, size), 'read', `fd ${fd}`);
    return buf.subarray(0, n);
  }
  pipe(): [number, number] {
    const fds = new Int32Array(2);
    check(libc().pipe2(fds, 0o2000000 /* O_CLOEXEC */), 'pipe2');
    return [fds[0]!, fds[1]!];
  }
  reap(pid: number): number | undefined {
    const status = new Int32Array(1);
    const ret = check(libc().waitpid(pid, status, 1 /* WNOHANG */), 'waitpid', String(pid));
    return ret === 0 ? undefined : status[0];
  }
  setsid(): number {
    return check(libc().setsid(), 'setsid');
  }
  ioctlInt(fd: number, request: number, value: number): number {
    return check(libc().ioctl(fd, request, value), 'ioctl', `0x${request.toString(16)}`);
  }
  ptsNumber(masterFd: number): number {
    const buf = Buffer.alloc(4);
    check(libc().ioctl_ptr(masterFd, 0x80045430, buf), 'ioctl', 'TIOCGPTN');
    return buf.readUInt32LE(0);
  }
  setWinsize(fd: number, rows: number, cols: number): void {
    const buf = Buffer.alloc(8);
    buf.writeUInt16LE(rows, 0);
    buf.writeUInt16LE(cols, 2);
    check(libc().ioctl_ptr(fd, 0x5414, buf), 'ioctl', 'TIOCSWINSZ');
  }
  ptyUnlock(masterFd: number): void {
    check(libc().ioctl_ptr(masterFd, 0x40045431, Buffer.alloc(4)), 'ioctl', 'TIOCSPTLCK');
  }
  connectUnix(p: string): number {
    const fd = check(libc().socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), 'socket');
    const addr = unixAddress(p, fd);
    if (libc().connect(fd, addr, addr.length) < 0) {
      const errno = libc().errno();
      libc().close(fd);
      throw new SysError('connect', errno, p);
    }
    return fd;
  }
  listenUnix(p: string, backlog = 16): number {
    const fd = check(libc().socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), 'socket');
    const addr = unixAddress(p, fd);
    if (libc().bind(fd, addr, addr.length) < 0 || libc().listen(fd, backlog) < 0) {
      const errno = libc().errno();
      libc().close(fd);
      throw new SysError('bind', errno, p);
    }
    return fd;
  }
  acceptAsync(listenFd: number): Promise<number> {
    return new Promise((resolve, reject) => {
      libc().accept4.async(listenFd, null, null, SOCK_CLOEXEC, (err: unknown, ret: number) => {
        if (err) reject(err as Error);
        else if (ret < 0) reject(new SysError('accept', libc().errno()));
        else resolve(ret);
      });
    });
  }
  recvFd(socketFd: number): { fd: number; payload: string } {
    const { msg, decode } = recvFdMessage();
    for (;;) {
      const ret = libc().recvmsg(socketFd, msg, MSG_CMSG_CLOEXEC);
      if (ret < 0 && libc().errno() === 4 /* EINTR */) continue;
      if (ret < 0) throw new SysError('recvmsg', libc().errno());
      if (ret === 0) throw new SysError('recvmsg', 104 /* ECONNRESET */, 'the socket was closed');
      return decode(ret);
    }
  }
  socketpair(): [number, number] {
    const fds = new Int32Array(2);
    check(libc().socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 'socketpair');
    return [fds[0]!, fds[1]!];
  }
  recvFdAsync(socketFd: number): Promise<{ fd: number; payload: string }> {
    const c = libc();
    const data = Buffer.alloc(4096);
    const iov = Buffer.alloc(16);
    iov.writeBigUInt64LE(c.address(data), 0);
    iov.writeBigUInt64LE(BigInt(data.length), 8);
    const control = Buffer.alloc(64);
    const msg = Buffer.alloc(56);
    msg.writeBigUInt64LE(c.address(iov), 16);
    msg.writeBigUInt64LE(1n, 24);
    msg.writeBigUInt64LE(c.address(control), 32);
    msg.writeBigUInt64LE(BigInt(control.length), 40);
    return new Promise((resolve, reject) => {
      c.recvmsg.async(socketFd, msg, MSG_CMSG_CLOEXEC, (err: unknown, ret: number) => {
        // keep the buffers alive until the call is done
        void [data, iov, control];
        if (err) return reject(err as Error);
        if (ret < 0) return reject(new SysError('recvmsg', c.errno()));
        const controllen = Number(msg.readBigUInt64LE(40));
        if (controllen < 20 || control.readInt32LE(8) !== SOL_SOCKET || control.readInt32LE(12) !== SCM_RIGHTS) {
          return reject(new SysError('recvmsg', 22 /* EINVAL */, 'no fd in message'));
        }
        resolve({ fd: control.readInt32LE(16), payload: data.subarray(0, ret).toString('utf8').replace(/\0+$/, '') });
      });
    });
  }
  sendFd(socketFd: number, fd: number, payload: string): void {
    const c = libc();
    const data = Buffer.from(payload.length > 0 ? payload : '\0');
    const iov = Buffer.alloc(16);
    iov.writeBigUInt64LE(c.address(data), 0);
    iov.writeBigUInt64LE(BigInt(data.length), 8);
    // cmsghdr: size_t len, int level, int type, then the fd; CMSG_SPACE(4) = 24
    const control = Buffer.alloc(24);
    control.writeBigUInt64LE(20n, 0);
    control.writeInt32LE(SOL_SOCKET, 8);
    control.writeInt32LE(SCM_RIGHTS, 12);
    control.writeInt32LE(fd, 16);
    const msg = Buffer.alloc(56);
    msg.writeBigUInt64LE(c.address(iov), 16);
    msg.writeBigUInt64LE(1n, 24);
    msg.writeBigUInt64LE(c.address(control), 32);
    msg.writeBigUInt64LE(24n, 40);
    check(c.sendmsg(socketFd, msg, 0), 'sendmsg', 'SCM_RIGHTS');
  }
  getpid(): number {
    return libc().getpid();
  }
  sethostname(name: string): void {
    check(libc().sethostname(name, Buffer.byteLength(name)), 'sethostname', name);
  }
  setdomainname(name: string): void {
    check(libc().setdomainname(name, Buffer.byteLength(name)), 'setdomainname', name);
  }
  prctl(option: number, a2 = 0, a3 = 0, a4 = 0, a5 = 0): number {
    return check(libc().prctl(option, a2, a3, a4, a5), 'prctl', String(option));
  }
  mallocTrim(): void {
    libc().malloc_trim(0); // returns whether memory was released: never an error
  }
  capget(): CapabilitySets {
    const header = Buffer.alloc(8);
    header.writeUInt32LE(LINUX_CAPABILITY_VERSION_3, 0);
    const data = Buffer.alloc(24);
    check(libc().capget(header, data), 'capget');
    const word = (i: number, off: number) => BigInt(data.readUInt32LE(i * 12 + off));
    return {
      effective: word(0, 0) | (word(1, 0) << 32n),
      permitted: word(0, 4) | (word(1, 4) << 32n),
      inheritable: word(0, 8) | (word(1, 8) << 32n),
    };
  }
  capset(sets: CapabilitySets): void {
    const header = Buffer.alloc(8);
    header.writeUInt32LE(LINUX_CAPABILITY_VERSION_3, 0);
    const data = Buffer.alloc(24);
    const put = (v: bigint, off: number) => {
      data.writeUInt32LE(Number(v & 0xffffffffn), off);
      data.writeUInt32LE(Number((v >> 32n) & 0xffffffffn), 12 + off);
    };
    put(sets.effective, 0);
    put(sets.permitted, 4);
    put(sets.inheritable, 8);
    check(libc().capset(header, data), 'capset');
  }
  setgroups(gids: number[]): void {
    const buf = Buffer.alloc(Math.max(4, gids.length * 4));
    gids.forEach((g, i) => buf.writeUInt32LE(g, i * 4));
    check(libc().setgroups(gids.length, gids.length ? buf : null), 'setgroups');
  }
  setresgid(gid: number): void {
    check(libc().setresgid(gid, gid, gid), 'setresgid', String(gid));
  }
  setresuid(uid: number): void {
    check(libc().setresuid(uid, uid, uid), 'setresuid', String(uid));
  }
  setrlimit(resource: number, soft: bigint, hard: bigint): void {
    const buf = Buffer.alloc(16);
    buf.writeBigUInt64LE(soft, 0);
    buf.writeBigUInt64LE(hard, 8);
    check(libc().prlimit(0, resource, buf, null), 'prlimit', String(resource));
  }
  umask(mask: number): number {
    return libc().umask(mask);
  }
  resetSignals(): void {
    for (let sig = 1; sig < 65; sig++) {
      if (sig === 9 || sig === 19 || sig === 32 || sig === 33) continue;
      libc().signal(sig, null);
    }
    check(libc().sigprocmask(2 /* SIG_SETMASK */, Buffer.alloc(128), null), 'sigprocmask');
  }
  kill(pid: number, signal: number): void {
    check(libc().kill(pid, signal), 'kill', String(pid));
  }
  seccompLoad(filter: SeccompFilter): number | undefined {
    return loadSeccompFilter(filter);
  }
  seccompCompile(filter: SeccompFilter): CompiledSeccomp | undefined {
    return compileSeccompFilter(filter);
  }
  seccompLoadCompiled(compiled: CompiledSeccomp): number | undefined {
    return loadSeccompProgram(compiled);
  }
  bpfProgLoad(prog: BpfProgram): number {
    return bpf.bpfProgLoad(prog);
  }
  bpfProgAttach(targetFd: number, progFd: number, attachType: number, flags: number): void {
    bpf.bpfProgAttach(targetFd, progFd, attachType, flags);
  }
  bpfProgDetach(targetFd: number, progFd: number, attachType: number): void {
    bpf.bpfProgDetach(targetFd, progFd, attachType);
  }
  bpfProgQuery(targetFd: number, attachType: number): number[] {
    return bpf.bpfProgQuery(targetFd, attachType);
  }
  bpfProgGetFdById(id: number): number {
    return bpf.bpfProgGetFdById(id);
  }
  execve(p: string, argv: string[], env: string[]): never {
    libc().execve(p, [...argv, null], [...env, null]);
    throw new SysError('execve', libc().errno(), p);
  }
  fsopen(fsName: string): number {
    return check(libc().fsopen(fsName, FSOPEN_CLOEXEC), 'fsopen', fsName);
  }
  fsconfigString(fsFd: number, key: string, value: string): void {
    check(libc().fsconfig(fsFd, FSCONFIG_SET_STRING, key, value, 0), 'fsconfig', `${key}=${value}`);
  }
  fsconfigCreate(fsFd: number): void {
    check(libc().fsconfig(fsFd, FSCONFIG_CMD_CREATE, null, null, 0), 'fsconfig', 'create');
  }
  fsmount(fsFd: number, attrs: number): number {
    return check(libc().fsmount(fsFd, FSMOUNT_CLOEXEC, attrs), 'fsmount');
  }
  openTreeClone(dirfd: number, p: string, flags: number): number {
    return check(libc().open_tree(dirfd, p, OPEN_TREE_CLONE | O.CLOEXEC | flags), 'open_tree', p);
  }
  moveMountFd(fromFd: number, toPath: string): void {
    check(libc().move_mount(fromFd, '', AT.FDCWD, toPath, MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_SYMLINKS), 'move_mount', toPath);
  }
  memfdCreate(name: string, flags: number): number {
    return check(libc().memfd_create(name, flags), 'memfd_create', name);
  }
  sendfile(outFd: number, inFd: number, count: number): number {
    return check(libc().sendfile(outFd, inFd, null, count), 'sendfile', `fd ${inFd}`);
  }
  fcntlInt(fd: number, cmd: number, arg: number): number {
    return check(libc().fcntl(fd, cmd, arg), 'fcntl', `fd ${fd} cmd ${cmd}`);
  }
  spawn(req: SpawnRequest): number {
    const c = libc();
    const actions = Buffer.alloc(SPAWN_STRUCT_SIZE);
    const attr = Buffer.alloc(SPAWN_STRUCT_SIZE);
    // posix_spawn and its helpers return an error number instead of setting errno
    const must = (ret: number, what: string) => {
      if (ret !== 0) throw new SysError(what, ret, req.path);
    };
    must(c.posix_spawn_file_actions_init(actions), 'posix_spawn_file_actions_init');
    must(c.posix_spawnattr_init(attr), 'posix_spawnattr_init');
    try {
      if (req.terminal !== undefined) {
        must(c.posix_spawn_file_actions_addopen(actions, 0, req.terminal, 0o2 /* O_RDWR */ | 0o400000 /* O_NOFOLLOW */, 0), 'posix_spawn_file_actions_addopen');
        must(c.posix_spawn_file_actions_adddup2(actions, 0, 1), 'posix_spawn_file_actions_adddup2');
        must(c.posix_spawn_file_actions_adddup2(actions, 0, 2), 'posix_spawn_file_actions_adddup2');
      }
      if (req.closeFrom !== undefined) must(c.posix_spawn_file_actions_addclosefrom_np(actions, req.closeFrom), 'posix_spawn_file_actions_addclosefrom_np');
      // Signals 1-64, built by hand: glibc's sigfillset leaves out its internal 32 and 33, which
      // its spawn child then sets to SIG_IGN, and an ignored signal survives execve.
      const all = Buffer.alloc(128);
      all.fill(0xff, 0, 8);
      const none = Buffer.alloc(128);
      must(c.posix_spawnattr_setsigdefault(attr, all), 'posix_spawnattr_setsigdefault');
      must(c.posix_spawnattr_setsigmask(attr, none), 'posix_spawnattr_setsigmask');
      must(
        c.posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | (req.setsid ? POSIX_SPAWN_SETSID : 0)),
        'posix_spawnattr_setflags',
      );
      const pid = new Int32Array(1);
      must(c.posix_spawn(pid, req.path, actions, attr, [...req.argv, null], [...req.env, null]), 'posix_spawn');
      return pid[0]!;
    } finally {
      c.posix_spawn_file_actions_destroy(actions);
      c.posix_spawnattr_destroy(attr);
    }
  }
  exitNow(code: number): never {
    libc()._exit(code);
    throw new Error('_exit returned');
  }
}

/** A msghdr for one SCM_RIGHTS fd and up to 4 KiB of data, and the decoder of what recvmsg put in it. */
function recvFdMessage(): { msg: Buffer; decode: (ret: number) => { fd: number; payload: string } } {
  const c = libc();
  const data = Buffer.alloc(4096);
  const iov = Buffer.alloc(16);
  iov.writeBigUInt64LE(c.address(data), 0);
  iov.writeBigUInt64LE(BigInt(data.length), 8);
  const control = Buffer.alloc(64);
  const msg = Buffer.alloc(56);
  msg.writeBigUInt64LE(c.address(iov), 16);
  msg.writeBigUInt64LE(1n, 24);
  msg.writeBigUInt64LE(c.address(control), 32);
  msg.writeBigUInt64LE(BigInt(control.length), 40);
  const decode = (ret: number) => {
    // the buffers the message points into live as long as this closure
    void [data, iov];
    const controllen = Number(msg.readBigUInt64LE(40));
    if (controllen < 20 || control.readInt32LE(8) !== SOL_SOCKET || control.readInt32LE(12) !== SCM_RIGHTS) {
      throw new SysError('recvmsg', 22 /* EINVAL */, 'no fd in message');
    }
    return { fd: control.readInt32LE(16), payload: data.subarray(0, ret).toString('utf8').replace(/\0+$/, '') };
  };
  return { msg, decode };
}
