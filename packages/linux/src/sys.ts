/**
 * The one seam between Gantry and the kernel. Everything that changes process or kernel state
 * (namespaces, mounts, credentials, capabilities, rlimits, ttys, exec) goes through this interface,
 * so container set-up logic can run against `FakeSys` in unit tests and against `LinuxSys` for real.
 * Every method is synchronous and acts on the calling thread; a failure throws `SysError`.
 */

export interface CapabilitySets {
  effective: bigint;
  permitted: bigint;
  inheritable: bigint;
}

export interface FileKind {
  kind: 'file' | 'dir' | 'symlink' | 'chr' | 'blk' | 'fifo' | 'socket' | 'other';
  mode: number;
  uid: number;
  gid: number;
  rdev: number;
}

/** What statfs(2) says of the filesystem a path or fd is on. */
export interface FsStat {
  /** f_type: the filesystem's magic number (FS_MAGIC). */
  type: number;
  /** f_flags: the mount's ST_* flags (statfsToMountFlags turns them into MS_*). */
  flags: number;
}

/** OCI seccomp actions the loader implements. */
export type SeccompActionName =
  | 'SCMP_ACT_KILL'
  | 'SCMP_ACT_KILL_PROCESS'
  | 'SCMP_ACT_KILL_THREAD'
  | 'SCMP_ACT_TRAP'
  | 'SCMP_ACT_ERRNO'
  | 'SCMP_ACT_TRACE'
  | 'SCMP_ACT_ALLOW'
  | 'SCMP_ACT_LOG'
  /** User notification: the syscall waits for whoever holds the listener fd (seccompLoad's result). */
  | 'SCMP_ACT_NOTIFY';

/** libseccomp's `enum scmp_compare` names, as OCI spells them. */
export type SeccompOperatorName = 'SCMP_CMP_NE' | 'SCMP_CMP_LT' | 'SCMP_CMP_LE' | 'SCMP_CMP_EQ' | 'SCMP_CMP_GE' | 'SCMP_CMP_GT' | 'SCMP_CMP_MASKED_EQ';

/** One argument condition; values are 64-bit, hence bigint. */
export interface SeccompArgRule {
  /** Argument index, 0..5. */
  index: number;
  value: bigint;
  /** Second datum: the compared value for SCMP_CMP_MASKED_EQ (where `value` is the mask), else 0n. */
  valueTwo: bigint;
  op: SeccompOperatorName;
}
/** One OCI `syscalls` entry: every name gets the same action and conditions. */
export interface SeccompRule {
  names: string[];
  action: SeccompActionName;
  /** For SCMP_ACT_ERRNO (errno returned) and SCMP_ACT_TRACE (message to the tracer); default EPERM. */
  errnoRet?: number;
  args: SeccompArgRule[];
}
/** A seccomp filter compiled to what seccomp(2) loads: JSON-safe, it travels in a stage's bootstrap. */
export interface CompiledSeccomp {
  /** The BPF program (struct sock_filter[]), base64. */
  program: string;
  /** seccomp(2)'s SECCOMP_FILTER_FLAG_* bits, a listener's included. */
  flags: number;
  /** It has SCMP_ACT_NOTIFY rules: loading returns the listener fd. */
  notify: boolean;
}

export interface SeccompFilter {
  defaultAction: SeccompActionName;
  defaultErrnoRet?: number;
  /** SCMP_ARCH_* names; ones libseccomp does not know are skipped. The native arch is always in. */
  architectures: string[];
  /** SECCOMP_FILTER_FLAG_* names. */
  flags: string[];
  rules: SeccompRule[];
}

/** A program for BPF_PROG_LOAD. */
export interface BpfProgram {
  /** BPF_PROG_TYPE_* (see `BPF` in constants). */
  type: number;
  /** The instructions, 8 bytes each (struct bpf_insn, little-endian). */
  insns: Buffer;
  /** Only matters for GPL-only helpers; a program that calls none may carry any license. */
  license: string;
  /** Name shown by bpftool: up to 15 characters of [A-Za-z0-9_.]. */
  name?: string;
}

/** What posix_spawn(3) starts: a native fork+exec, so no JavaScript runs in the child. */
export interface SpawnRequest {
  /** The program, as execve(2) takes it (no PATH search). */
  path: string;
  argv: string[];
  env: string[];
  /** setsid(2) in the child (POSIX_SPAWN_SETSID), before the file actions. */
  setsid: boolean;
  /**
   * A terminal to open as fds 0, 1 and 2 in the child (O_NOFOLLOW). Opened after setsid, so it
   * becomes the child's controlling terminal.
   */
  terminal?: string;
  /** Close every fd from this one up in the child, before execve (posix_spawn_file_actions_addclosefrom_np). */
  closeFrom?: number;
}

export interface Sys {
  // namespaces
  unshare(flags: number): void;
  setns(fd: number, nstype: number): void;

  // mounts and root
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void;
  umount(target: string, flags: number): void;
  pivotRoot(newRoot: string, putOld: string): void;
  chroot(path: string): void;
  chdir(path: string): void;
  fchdir(fd: number): void;
  /**
   * getcwd(2) as the kernel answers it: a path, or one starting with "(unreachable)" when the
   * working directory is outside this thread's root. Throws ENOENT when it was removed.
   */
  getcwd(): string;
  /** mount_setattr(2) (kernel 5.12+) on `path` below `dirfd` (-100: the cwd); AT_RECURSIVE in `flags` for the whole tree. */
  mountSetattr(dirfd: number, path: string, flags: number, attrSet: number, attrClear: number): void;
  /** statfs(2); follows symlinks (and /proc/self/fd magic links). */
  statfs(path: string): FsStat;
  /** fstatfs(2), on an O_PATH fd too: the filesystem the fd is on, whatever its path now is. */
  fstatfs(fd: number): FsStat;

  // files (synchronous, on the calling thread so they see its root and mount namespace)
  stat(path: string, followLinks?: boolean): FileKind | undefined;
  mkdirAll(path: string, mode: number): void;
  writeFile(path: string, data: string): void;
  readFile(path: string): string;
  createFile(path: string, mode: number): void;
  symlink(target: string, path: string): void;
  unlink(path: string): void;
  mknod(path: string, mode: number, major: number, minor: number): void;
  chown(path: string, uid: number, gid: number): void;
  chmod(path: string, mode: number): void;
  realpath(path: string): string;
  readlink(path: string): string;
  /** lsetxattr(2): set an extended attribute on `path` itself (a symlink is not followed). */
  lsetxattr(path: string, name: string, value: Buffer): void;
  /** lgetxattr(2): the attribute's value, undefined when `path` does not have it (ENODATA). */
  lgetxattr(path: string, name: string): Buffer | undefined;
  /** llistxattr(2): the names of `path`'s attributes (those this process may see). */
  llistxattr(path: string): string[];

  // file descriptors
  open(path: string, flags: number, mode?: number): number;
  openat(dirfd: number, path: string, flags: number, mode?: number): number;
  /**
   * openat2(2) with `resolve` (RESOLVE_* bits). Throws SysError ENOSYS on kernels before 5.6, which
   * the confined resolver (`openInRoot`) answers with its own walk.
   */
  openat2(dirfd: number, path: string, flags: number, mode: number, resolve: number): number;
  /** fstat(2) of an fd (an O_PATH fd too). */
  fstat(fd: number): FileKind;
  /** readlinkat(2); with path "" the fd itself must be an O_PATH|O_NOFOLLOW fd on a symlink. */
  readlinkat(dirfd: number, path: string): string;
  mkdirat(dirfd: number, path: string, mode: number): void;
  /**
   * fstatat(2) (through statx) of `path` below `dirfd`, the last component not followed unless
   * `followLinks`; path "" is the fd itself (AT_EMPTY_PATH, O_PATH fds too). Undefined for ENOENT/ENOTDIR.
   */
  fstatat(dirfd: number, path: string, followLinks?: boolean): FileKind | undefined;
  /** unlinkat(2); `flags` AT.REMOVEDIR removes an empty directory. */
  unlinkat(dirfd: number, path: string, flags: number): void;
  symlinkat(target: string, dirfd: number, path: string): void;
  /** mknodat(2): `mode` carries the S_IF* type bits. */
  mknodat(dirfd: number, path: string, mode: number, major: number, minor: number): void;
  /** linkat(2): without AT.SYMLINK_FOLLOW a symlink at `oldpath` is linked itself. */
  linkat(olddirfd: number, oldpath: string, newdirfd: number, newpath: string, flags: number): void;
  /** fchownat(2): AT.SYMLINK_NOFOLLOW for a link itself, AT.EMPTY_PATH with path "" for the fd (O_PATH too). */
  fchownat(dirfd: number, path: string, uid: number, gid: number, flags: number): void;
  /** fchmod(2); an O_PATH fd is changed through its /proc/self/fd magic link (never pass a symlink's fd). */
  fchmod(fd: number, mode: number): void;
  /** utimensat(2) with times in seconds (fractions kept to the nanosecond); AT.EMPTY_PATH with path "" for the fd. */
  utimensat(dirfd: number, path: string, atime: number, mtime: number, flags: number): void;
  /** setxattr(2) on the file an fd (O_PATH too, a symlink's included) refers to, through /proc/self/fd. */
  fsetxattr(fd: number, name: string, value: Buffer): void;
  /** getxattr(2) the same way; undefined when the file does not have the attribute (ENODATA). */
  fgetxattr(fd: number, name: string): Buffer | undefined;
  /** listxattr(2) the same way. */
  flistxattr(fd: number): string[];
  /** The names in the directory an fd (O_PATH too) refers to, read through /proc/self/fd ("." and ".." left out). */
  readdirFd(fd: number): string[];
  close(fd: number): void;
  dup2(oldfd: number, newfd: number): void;
  setCloexec(fd: number, on: boolean): void;
  /** fds currently open in this process, from /proc/self/fd. */
  listFds(): number[];
  /**
   * close_range(2) from `first` to the last fd: close them, or with `cloexecOnly` mark them
   * close-on-exec (needs no /proc, so it works where /proc/self is not ours).
   */
  closeFrom(first: number, cloexecOnly: boolean): void;
  write(fd: number, data: string | Buffer): number;
  /** pipe2(O_CLOEXEC): [read end, write end]. */
  pipe(): [number, number];
  /** waitpid(pid, WNOHANG): the exit status word when `pid` was reaped, undefined while it runs. */
  reap(pid: number): number | undefined;
  read(fd: number, size: number): Buffer;

  // terminals and sockets
  setsid(): number;
  ioctlInt(fd: number, request: number, value: number): number;
  /** Returns the pts number of a pty master (TIOCGPTN). */
  ptsNumber(masterFd: number): number;
  setWinsize(fd: number, rows: number, cols: number): void;
  /** Unlock a pty master so its slave can be opened (TIOCSPTLCK 0). */
  ptyUnlock(masterFd: number): void;
  /** socket(AF_UNIX, SOCK_STREAM) + connect; returns the connected fd (close-on-exec). */
  connectUnix(path: string): number;
  /** sendmsg with one fd in SCM_RIGHTS and `payload` as the data. */
  sendFd(socketFd: number, fd: number, payload: string): void;
  /** socket + bind + listen on a unix path (close-on-exec); returns the listening fd. */
  listenUnix(path: string, backlog?: number): number;
  /** accept(2) on a koffi worker thread, so the event loop keeps running. */
  acceptAsync(listenFd: number): Promise<number>;
  /** recvmsg of one SCM_RIGHTS fd (and its data) on a koffi worker thread. */
  recvFdAsync(socketFd: number): Promise<{ fd: number; payload: string }>;
  /** recvmsg of one SCM_RIGHTS fd (close-on-exec) and its data, blocking this thread. */
  recvFd(socketFd: number): { fd: number; payload: string };
  /** socketpair(AF_UNIX, SOCK_STREAM), both ends close-on-exec and blocking. */
  socketpair(): [number, number];

  // process attributes
  getpid(): number;
  sethostname(name: string): void;
  setdomainname(name: string): void;
  prctl(option: number, arg2?: number, arg3?: number, arg4?: number, arg5?: number): number;
  /** glibc's malloc_trim(0): give the free memory of every malloc arena back to the kernel. */
  mallocTrim(): void;
  capget(): CapabilitySets;
  capset(sets: CapabilitySets): void;
  setgroups(gids: number[]): void;
  setresgid(gid: number): void;
  setresuid(uid: number): void;
  setrlimit(resource: number, soft: bigint, hard: bigint): void;
  umask(mask: number): number;
  /** Default disposition for every signal and an empty mask: ignored signals would survive execve. */
  resetSignals(): void;
  kill(pid: number, signal: number): void;
  /**
   * Load a filter on the calling thread. With SCMP_ACT_NOTIFY rules, returns the listener fd
   * (close-on-exec) that the seccomp agent reads notifications from; otherwise undefined.
   */
  seccompLoad(filter: SeccompFilter): number | undefined;
  /**
   * The BPF program `seccompLoad` would load, compiled in this process to be loaded by another
   * (`seccompLoadCompiled`); undefined where only libseccomp loads filters (not x86_64).
   */
  seccompCompile(filter: SeccompFilter): CompiledSeccomp | undefined;
  /** Load a compiled filter on the calling thread; returns as `seccompLoad`. */
  seccompLoadCompiled(compiled: CompiledSeccomp): number | undefined;

  // bpf(2), for cgroup v2 device filters
  /** BPF_PROG_LOAD: the program's fd (close-on-exec). A refusal throws `BpfLoadError` with the verifier log. */
  bpfProgLoad(prog: BpfProgram): number;
  /** BPF_PROG_ATTACH `progFd` to `targetFd` (e.g. a cgroup directory opened O_DIRECTORY). */
  bpfProgAttach(targetFd: number, progFd: number, attachType: number, flags: number): void;
  /** BPF_PROG_DETACH one attached program (`progFd` names it). */
  bpfProgDetach(targetFd: number, progFd: number, attachType: number): void;
  /** BPF_PROG_QUERY: ids of the programs attached to `targetFd` itself (not inherited) for `attachType`. */
  bpfProgQuery(targetFd: number, attachType: number): number[];
  /** BPF_PROG_GET_FD_BY_ID: an fd for a loaded program (ENOENT once it is gone). */
  bpfProgGetFdById(id: number): number;
  execve(path: string, argv: string[], env: string[]): never;

  // detached mounts and sealed files (the stages' executable, CVE-2019-5736)
  /** fsopen(2) with FSOPEN_CLOEXEC: a filesystem context for `fsName` (e.g. "overlay"). */
  fsopen(fsName: string): number;
  /** fsconfig(FSCONFIG_SET_STRING) on a context from `fsopen`. */
  fsconfigString(fsFd: number, key: string, value: string): void;
  /** fsconfig(FSCONFIG_CMD_CREATE): make the superblock. */
  fsconfigCreate(fsFd: number): void;
  /** fsmount(2) with FSMOUNT_CLOEXEC: a mount attached to no mount table; `attrs` are MOUNT_ATTR_*. */
  fsmount(fsFd: number, attrs: number): number;
  /**
   * open_tree(2) with OPEN_TREE_CLONE|OPEN_TREE_CLOEXEC: a detached copy of the mount at `path`
   * (AT.RECURSIVE in `flags`: with its submounts). A process in another mount namespace, even one
   * owned by a user namespace, can attach it with `moveMount`, where a bind of the path could not.
   */
  openTreeClone(dirfd: number, path: string, flags: number): number;
  /** move_mount(2) of a detached mount fd (MOVE_MOUNT_F_EMPTY_PATH) onto `toPath`, magic links followed. */
  moveMountFd(fromFd: number, toPath: string): void;
  /** memfd_create(2); `flags` are MFD_*. */
  memfdCreate(name: string, flags: number): number;
  /** sendfile(2) from `inFd`'s offset: the bytes copied, 0 at end of file. */
  sendfile(outFd: number, inFd: number, count: number): number;
  /** fcntl(2) with an int argument (F_DUPFD_CLOEXEC, F_ADD_SEALS, F_GET_SEALS…): its result. */
  fcntlInt(fd: number, cmd: number, arg: number): number;
  /**
   * posix_spawn(3) from the calling thread: the child inherits this thread's namespaces (pid for
   * children included), credentials, capabilities, seccomp filter, root and cwd. Every signal is
   * reset to its default and the child's signal mask is empty. Returns the child's pid.
   */
  spawn(req: SpawnRequest): number;
  /** _exit(2): end the process now, without Node's exit handlers (a stage under seccomp). */
  exitNow(code: number): never;
}
