/**
 * koffi bindings to glibc. Loaded lazily, once, so processes that never touch the kernel seam
 * (a CLI printing help) do not pay for it. Pointer-sized arguments are passed as Buffers.
 */
import koffi from 'koffi';

export interface Libc {
  unshare(flags: number): number;
  setns(fd: number, nstype: number): number;
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): number;
  umount2(target: string, flags: number): number;
  pivot_root(newRoot: string, putOld: string): number;
  chroot(path: string): number;
  chdir(path: string): number;
  fchdir(fd: number): number;
  mkdir(path: string, mode: number): number;
  mknod(path: string, mode: number, dev: bigint): number;
  symlink(target: string, path: string): number;
  unlink(path: string): number;
  chown(path: string, uid: number, gid: number): number;
  chmod(path: string, mode: number): number;
  lsetxattr(path: string, name: string, value: Buffer, size: number, flags: number): number;
  lgetxattr(path: string, name: string, value: Buffer | null, size: number): number;
  llistxattr(path: string, list: Buffer | null, size: number): number;
  open(path: string, flags: number, mode: number): number;
  openat(dirfd: number, path: string, flags: number, mode: number): number;
  /** openat2(2) through syscall(2); `how` is a struct open_how (24 bytes). */
  openat2(dirfd: number, path: string, how: Buffer): number;
  readlinkat(dirfd: number, path: string, buf: Buffer, size: number): number;
  mkdirat(dirfd: number, path: string, mode: number): number;
  statfs(path: string, buf: Buffer): number;
  fstatfs(fd: number, buf: Buffer): number;
  /** mount_setattr(2) through syscall(2); `attr` is a struct mount_attr (32 bytes). */
  mount_setattr(dirfd: number, path: string, flags: number, attr: Buffer): number;
  statx(dirfd: number, path: string, flags: number, mask: number, buf: Buffer): number;
  unlinkat(dirfd: number, path: string, flags: number): number;
  symlinkat(target: string, dirfd: number, path: string): number;
  mknodat(dirfd: number, path: string, mode: number, dev: bigint): number;
  linkat(olddirfd: number, oldpath: string, newdirfd: number, newpath: string, flags: number): number;
  fchownat(dirfd: number, path: string, uid: number, gid: number, flags: number): number;
  fchmod(fd: number, mode: number): number;
  /** `times` is struct timespec[2] (32 bytes). */
  utimensat(dirfd: number, path: string, times: Buffer, flags: number): number;
  setxattr(path: string, name: string, value: Buffer, size: number, flags: number): number;
  getxattr(path: string, name: string, value: Buffer | null, size: number): number;
  listxattr(path: string, list: Buffer | null, size: number): number;
  close(fd: number): number;
  dup3(oldfd: number, newfd: number, flags: number): number;
  fcntl(fd: number, cmd: number, arg: number): number;
  write(fd: number, buf: Buffer, count: number): number;
  read(fd: number, buf: Buffer, count: number): number;
  pipe2(fds: Int32Array, flags: number): number;
  waitpid(pid: number, status: Int32Array, options: number): number;
  setsid(): number;
  ioctl(fd: number, request: number, arg: number): number;
  ioctl_ptr(fd: number, request: number, arg: Buffer): number;
  socket(domain: number, type: number, protocol: number): number;
  socketpair(domain: number, type: number, protocol: number, fds: Int32Array): number;
  connect(fd: number, addr: Buffer, len: number): number;
  sendmsg(fd: number, msg: Buffer, flags: number): number;
  bind(fd: number, addr: Buffer, len: number): number;
  listen(fd: number, backlog: number): number;
  accept4: AsyncCapable;
  recvmsg: AsyncCapable;
  getpid(): number;
  sethostname(name: string, len: number): number;
  setdomainname(name: string, len: number): number;
  prctl(option: number, a2: number, a3: number, a4: number, a5: number): number;
  malloc_trim(pad: number): number;
  capget(header: Buffer, data: Buffer): number;
  capset(header: Buffer, data: Buffer): number;
  setgroups(size: number, list: Buffer | null): number;
  setresgid(r: number, e: number, s: number): number;
  setresuid(r: number, e: number, s: number): number;
  prlimit(pid: number, resource: number, newLimit: Buffer, oldLimit: Buffer | null): number;
  umask(mask: number): number;
  signal(sig: number, handler: null): unknown;
  sigprocmask(how: number, set: Buffer, old: null): number;
  kill(pid: number, sig: number): number;
  execve(path: string, argv: (string | null)[], envp: (string | null)[]): number;
  /** bpf(2) through syscall(2): glibc has no wrapper. */
  bpf(cmd: number, attr: Buffer, size: number): number;
  fsopen(fsName: string, flags: number): number;
  fsconfig(fd: number, cmd: number, key: string | null, value: string | null, aux: number): number;
  fsmount(fd: number, flags: number, attrs: number): number;
  open_tree(dirfd: number, path: string, flags: number): number;
  move_mount(fromDirfd: number, fromPath: string, toDirfd: number, toPath: string, flags: number): number;
  memfd_create(name: string, flags: number): number;
  sendfile(outFd: number, inFd: number, offset: null, count: number): number;
  _exit(code: number): void;
  /** Raw getcwd(2) (glibc's getcwd(3) hides "(unreachable)" answers behind ENOENT). */
  getcwd(buf: Buffer, size: number): number;
  close_range(first: number, last: number, flags: number): number;
  posix_spawn(pid: Int32Array, path: string, fileActions: Buffer, attr: Buffer, argv: (string | null)[], envp: (string | null)[]): number;
  posix_spawn_file_actions_init(fa: Buffer): number;
  posix_spawn_file_actions_destroy(fa: Buffer): number;
  posix_spawn_file_actions_addopen(fa: Buffer, fd: number, path: string, flags: number, mode: number): number;
  posix_spawn_file_actions_adddup2(fa: Buffer, fd: number, newfd: number): number;
  posix_spawn_file_actions_addclosefrom_np(fa: Buffer, from: number): number;
  posix_spawnattr_init(attr: Buffer): number;
  posix_spawnattr_destroy(attr: Buffer): number;
  posix_spawnattr_setflags(attr: Buffer, flags: number): number;
  posix_spawnattr_setsigdefault(attr: Buffer, set: Buffer): number;
  posix_spawnattr_setsigmask(attr: Buffer, set: Buffer): number;
  errno(): number;
  address(buf: Buffer): bigint;
}

/** A foreign function that can also run on koffi's worker thread (`fn.async(...args, cb)`). */
interface AsyncCapable {
  (...args: unknown[]): number;
  async(...args: unknown[]): void;
}

let cached: Libc | undefined;

export function libc(): Libc {
  if (cached) return cached;
  const lib = koffi.load('libc.so.6');
  const f = (proto: string) => lib.func(proto) as (...args: unknown[]) => number;
  const fns = {
    unshare: f('int unshare(int flags)'),
    setns: f('int setns(int fd, int nstype)'),
    mount: f('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)'),
    umount2: f('int umount2(const char *target, int flags)'),
    pivot_root: lib.func('long syscall(long nr, const char *a, const char *b)') as (...a: unknown[]) => number,
    chroot: f('int chroot(const char *path)'),
    chdir: f('int chdir(const char *path)'),
    fchdir: f('int fchdir(int fd)'),
    mkdir: f('int mkdir(const char *path, uint32_t mode)'),
    mknod: f('int mknod(const char *path, uint32_t mode, uint64_t dev)'),
    symlink: f('int symlink(const char *target, const char *path)'),
    unlink: f('int unlink(const char *path)'),
    chown: f('int chown(const char *path, uint32_t uid, uint32_t gid)'),
    chmod: f('int chmod(const char *path, uint32_t mode)'),
    lsetxattr: f('int lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags)'),
    lgetxattr: f('long lgetxattr(const char *path, const char *name, _Out_ void *value, size_t size)'),
    llistxattr: f('long llistxattr(const char *path, _Out_ void *list, size_t size)'),
    open: f('int open(const char *path, int flags, uint32_t mode)'),
    openat: f('int openat(int dirfd, const char *path, int flags, uint32_t mode)'),
    openat2: lib.func('long syscall(long nr, int dirfd, const char *path, const void *how, size_t size)') as (...a: unknown[]) => number,
    readlinkat: f('long readlinkat(int dirfd, const char *path, _Out_ char *buf, size_t size)'),
    mkdirat: f('int mkdirat(int dirfd, const char *path, uint32_t mode)'),
    statfs: f('int statfs(const char *path, _Out_ void *buf)'),
    fstatfs: f('int fstatfs(int fd, _Out_ void *buf)'),
    mount_setattr: lib.func('long syscall(long nr, int dirfd, const char *path, unsigned int flags, const void *attr, size_t size)') as (
      ...a: unknown[]
    ) => number,
    statx: f('int statx(int dirfd, const char *path, int flags, uint32_t mask, _Out_ void *buf)'),
    unlinkat: f('int unlinkat(int dirfd, const char *path, int flags)'),
    symlinkat: f('int symlinkat(const char *target, int dirfd, const char *path)'),
    mknodat: f('int mknodat(int dirfd, const char *path, uint32_t mode, uint64_t dev)'),
    linkat: f('int linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags)'),
    fchownat: f('int fchownat(int dirfd, const char *path, uint32_t uid, uint32_t gid, int flags)'),
    fchmod: f('int fchmod(int fd, uint32_t mode)'),
    utimensat: f('int utimensat(int dirfd, const char *path, const void *times, int flags)'),
    setxattr: f('int setxattr(const char *path, const char *name, const void *value, size_t size, int flags)'),
    getxattr: f('long getxattr(const char *path, const char *name, _Out_ void *value, size_t size)'),
    listxattr: f('long listxattr(const char *path, _Out_ void *list, size_t size)'),
    close: f('int close(int fd)'),
    dup3: f('int dup3(int oldfd, int newfd, int flags)'),
    fcntl: f('int fcntl(int fd, int cmd, int arg)'),
    write: f('long write(int fd, void *buf, size_t count)'),
    read: f('long read(int fd, _Out_ void *buf, size_t count)'),
    pipe2: f('int pipe2(_Out_ int *fds, int flags)'),
    waitpid: f('int waitpid(int pid, _Out_ int *status, int options)'),
    setsid: f('int setsid()'),
    ioctl: f('int ioctl(int fd, unsigned long request, unsigned long arg)'),
    ioctl_ptr: lib.func('ioctl', 'int', ['int', 'unsigned long', 'void *']) as (...a: unknown[]) => number,
    socket: f('int socket(int domain, int type, int protocol)'),
    socketpair: f('int socketpair(int domain, int type, int protocol, _Out_ int *fds)'),
    connect: f('int connect(int fd, const void *addr, uint32_t len)'),
    sendmsg: f('long sendmsg(int fd, const void *msg, int flags)'),
    bind: f('int bind(int fd, const void *addr, uint32_t len)'),
    listen: f('int listen(int fd, int backlog)'),
    accept4: lib.func('int accept4(int fd, void *addr, void *len, int flags)') as unknown as AsyncCapable,
    recvmsg: lib.func('long recvmsg(int fd, void *msg, int flags)') as unknown as AsyncCapable,
    getpid: f('int getpid()'),
    sethostname: f('int sethostname(const char *name, size_t len)'),
    setdomainname: f('int setdomainname(const char *name, size_t len)'),
    prctl: f('int prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)'),
    malloc_trim: f('int malloc_trim(size_t pad)'),
    capget: f('int capget(void *header, _Inout_ void *data)'),
    capset: f('int capset(void *header, void *data)'),
    setgroups: f('int setgroups(size_t size, const void *list)'),
    setresgid: f('int setresgid(uint32_t r, uint32_t e, uint32_t s)'),
    setresuid: f('int setresuid(uint32_t r, uint32_t e, uint32_t s)'),
    prlimit: f('int prlimit(int pid, int resource, const void *newLimit, _Out_ void *oldLimit)'),
    umask: f('uint32_t umask(uint32_t mask)'),
    signal: lib.func('void *signal(int sig, void *handler)') as (...a: unknown[]) => number,
    sigprocmask: f('int sigprocmask(int how, const void *set, void *old)'),
    kill: f('int kill(int pid, int sig)'),
    execve: f('int execve(const char *path, const char **argv, const char **envp)'),
    bpf_syscall: lib.func('long syscall(long nr, int cmd, _Inout_ void *attr, uint32_t size)') as (...a: unknown[]) => number,
    // Through syscall(2): glibc wraps the new mount API only since 2.36.
    fsopen: lib.func('syscall', 'long', ['long', 'const char *', 'unsigned int']) as (...a: unknown[]) => number,
    fsconfig: lib.func('syscall', 'long', ['long', 'int', 'unsigned int', 'const char *', 'const char *', 'int']) as (...a: unknown[]) => number,
    fsmount: lib.func('syscall', 'long', ['long', 'int', 'unsigned int', 'unsigned int']) as (...a: unknown[]) => number,
    open_tree: lib.func('syscall', 'long', ['long', 'int', 'const char *', 'unsigned int']) as (...a: unknown[]) => number,
    move_mount: lib.func('syscall', 'long', ['long', 'int', 'const char *', 'int', 'const char *', 'unsigned int']) as (...a: unknown[]) => number,
    memfd_create: f('int memfd_create(const char *name, unsigned int flags)'),
    sendfile: f('long sendfile(int outFd, int inFd, void *offset, size_t count)'),
    _exit: f('void _exit(int code)'),
    getcwd: lib.func('syscall', 'long', ['long', 'void *', 'size_t']) as (...a: unknown[]) => number,
    close_range: lib.func('syscall', 'long', ['long', 'unsigned int', 'unsigned int', 'unsigned int']) as (...a: unknown[]) => number,
    posix_spawn: f('int posix_spawn(_Out_ int *pid, const char *path, void *fileActions, void *attr, const char **argv, const char **envp)'),
    posix_spawn_file_actions_init: f('int posix_spawn_file_actions_init(void *fa)'),
    posix_spawn_file_actions_destroy: f('int posix_spawn_file_actions_destroy(void *fa)'),
    posix_spawn_file_actions_addopen: f('int posix_spawn_file_actions_addopen(void *fa, int fd, const char *path, int flags, uint32_t mode)'),
    posix_spawn_file_actions_adddup2: f('int posix_spawn_file_actions_adddup2(void *fa, int fd, int newfd)'),
    posix_spawn_file_actions_addclosefrom_np: f('int posix_spawn_file_actions_addclosefrom_np(void *fa, int from)'),
    posix_spawnattr_init: f('int posix_spawnattr_init(void *attr)'),
    posix_spawnattr_destroy: f('int posix_spawnattr_destroy(void *attr)'),
    posix_spawnattr_setflags: f('int posix_spawnattr_setflags(void *attr, short flags)'),
    posix_spawnattr_setsigdefault: f('int posix_spawnattr_setsigdefault(void *attr, const void *set)'),
    posix_spawnattr_setsigmask: f('int posix_spawnattr_setsigmask(void *attr, const void *set)'),
  };
  const SYS_pivot_root = process.arch === 'arm64' ? 41 : 155;
  const SYS_bpf = process.arch === 'arm64' ? 280 : 321;
  const SYS_getcwd = process.arch === 'arm64' ? 17 : 79;
  // Syscalls numbered from 424 on are the same on every architecture.
  const SYS_open_tree = 428;
  const SYS_move_mount = 429;
  const SYS_fsopen = 430;
  const SYS_fsconfig = 431;
  const SYS_fsmount = 432;
  const SYS_close_range = 436;
  cached = {
    ...(fns as unknown as Omit<
      Libc,
      | 'pivot_root'
      | 'openat2'
      | 'bpf'
      | 'fsopen'
      | 'fsconfig'
      | 'fsmount'
      | 'open_tree'
      | 'move_mount'
      | 'getcwd'
      | 'close_range'
      | 'mount_setattr'
      | 'errno'
      | 'address'
    >),
    pivot_root: (a: string, b: string) => fns.pivot_root(SYS_pivot_root, a, b),
    // openat2 is 437 in the generic syscall table, the same on x86_64 and aarch64
    openat2: (dirfd: number, p: string, how: Buffer) => fns.openat2(437, dirfd, p, how, how.length),
    bpf: (cmd: number, attr: Buffer, size: number) => fns.bpf_syscall(SYS_bpf, cmd, attr, size),
    fsopen: (name: string, flags: number) => fns.fsopen(SYS_fsopen, name, flags),
    fsconfig: (fd: number, cmd: number, key: string | null, value: string | null, aux: number) => fns.fsconfig(SYS_fsconfig, fd, cmd, key, value, aux),
    fsmount: (fd: number, flags: number, attrs: number) => fns.fsmount(SYS_fsmount, fd, flags, attrs),
    open_tree: (dirfd: number, p: string, flags: number) => fns.open_tree(SYS_open_tree, dirfd, p, flags),
    move_mount: (fromDirfd: number, fromPath: string, toDirfd: number, toPath: string, flags: number) =>
      fns.move_mount(SYS_move_mount, fromDirfd, fromPath, toDirfd, toPath, flags),
    getcwd: (buf: Buffer, size: number) => fns.getcwd(SYS_getcwd, buf, size),
    close_range: (first: number, last: number, flags: number) => fns.close_range(SYS_close_range, first, last, flags),
    // mount_setattr is 442 in the generic table too
    mount_setattr: (dirfd: number, p: string, flags: number, attr: Buffer) => fns.mount_setattr(442, dirfd, p, flags, attr, attr.length),
    errno: () => koffi.errno(),
    address: (buf: Buffer) => koffi.address(buf) as bigint,
  };
  return cached;
}
