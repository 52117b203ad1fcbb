/** Linux ABI constants (x86_64/aarch64 generic values) used across Gantry. */

export const CLONE = {
  NEWTIME: 0x00000080,
  FS: 0x00000200,
  NEWNS: 0x00020000,
  NEWCGROUP: 0x02000000,
  NEWUTS: 0x04000000,
  NEWIPC: 0x08000000,
  NEWUSER: 0x10000000,
  NEWPID: 0x20000000,
  NEWNET: 0x40000000,
} as const;

export const MS = {
  RDONLY: 1,
  NOSUID: 2,
  NODEV: 4,
  NOEXEC: 8,
  SYNCHRONOUS: 16,
  REMOUNT: 32,
  MANDLOCK: 64,
  DIRSYNC: 128,
  NOSYMFOLLOW: 256,
  NOATIME: 1024,
  NODIRATIME: 2048,
  BIND: 4096,
  MOVE: 8192,
  REC: 16384,
  SILENT: 32768,
  POSIXACL: 1 << 16,
  UNBINDABLE: 1 << 17,
  PRIVATE: 1 << 18,
  SLAVE: 1 << 19,
  SHARED: 1 << 20,
  RELATIME: 1 << 21,
  STRICTATIME: 1 << 24,
  LAZYTIME: 1 << 25,
} as const;

export const MNT_DETACH = 2;

/** memfd_create(2) flags. EXEC (Linux 6.3) asks for an executable memfd where vm.memfd_noexec matters. */
export const MFD = { CLOEXEC: 0x1, ALLOW_SEALING: 0x2, EXEC: 0x10 } as const;

/** fcntl(F_ADD_SEALS) seals. EXEC (Linux 6.3) freezes the mode's exec bits. */
export const F_SEAL = { SEAL: 0x1, SHRINK: 0x2, GROW: 0x4, WRITE: 0x8, FUTURE_WRITE: 0x10, EXEC: 0x20 } as const;

/** statfs(2) f_flags bits (ST_*): not all equal to their MS_* counterparts (ST_RELATIME is not). */
export const ST = {
  RDONLY: 0x0001,
  NOSUID: 0x0002,
  NODEV: 0x0004,
  NOEXEC: 0x0008,
  SYNCHRONOUS: 0x0010,
  MANDLOCK: 0x0040,
  NOATIME: 0x0400,
  NODIRATIME: 0x0800,
  RELATIME: 0x1000,
  NOSYMFOLLOW: 0x2000,
} as const;

/** statfs(2) f_type magic numbers of the filesystems Gantry checks for (<linux/magic.h>). */
export const FS_MAGIC = {
  PROC: 0x9fa0,
  SYSFS: 0x62656572,
  TMPFS: 0x01021994,
  DEVPTS: 0x1cd1,
  MQUEUE: 0x19800202,
  CGROUP: 0x27e0eb,
  CGROUP2: 0x63677270,
  OVERLAYFS: 0x794c7630,
  NSFS: 0x6e736673,
  EXT4: 0xef53,
} as const;

/** mount_setattr(2)/fsmount(2) MOUNT_ATTR_* bits (not the MS_* values) (the recursive "rro", "rnosuid", ... options). */
export const MOUNT_ATTR = {
  RDONLY: 0x00000001,
  NOSUID: 0x00000002,
  NODEV: 0x00000004,
  NOEXEC: 0x00000008,
  RELATIME: 0x00000000,
  NOATIME: 0x00000010,
  STRICTATIME: 0x00000020,
  /** The atime bits as one field: setting one of RELATIME/NOATIME/STRICTATIME clears this. */
  ATIME_MASK: 0x00000070,
  NODIRATIME: 0x00000080,
  NOSYMFOLLOW: 0x00200000,
} as const;

export const O = {
  RDONLY: 0,
  WRONLY: 1,
  RDWR: 2,
  CREAT: 0o100,
  EXCL: 0o200,
  NOCTTY: 0o400,
  TRUNC: 0o1000,
  APPEND: 0o2000,
  NONBLOCK: 0o4000,
  DIRECTORY: 0o200000,
  NOFOLLOW: 0o400000,
  CLOEXEC: 0o2000000,
  PATH: 0o10000000,
} as const;

/** *at(2) flags. */
export const AT = {
  FDCWD: -100,
  SYMLINK_NOFOLLOW: 0x100,
  REMOVEDIR: 0x200,
  SYMLINK_FOLLOW: 0x400,
  EMPTY_PATH: 0x1000,
  RECURSIVE: 0x8000,
} as const;

export const S_IF = {
  FIFO: 0o010000,
  CHR: 0o020000,
  DIR: 0o040000,
  BLK: 0o060000,
  REG: 0o100000,
  LNK: 0o120000,
  SOCK: 0o140000,
} as const;

export const PR = {
  SET_PDEATHSIG: 1,
  GET_DUMPABLE: 3,
  SET_DUMPABLE: 4,
  SET_KEEPCAPS: 8,
  SET_NAME: 15,
  CAPBSET_READ: 23,
  CAPBSET_DROP: 24,
  SET_CHILD_SUBREAPER: 36,
  SET_NO_NEW_PRIVS: 38,
  GET_NO_NEW_PRIVS: 39,
  CAP_AMBIENT: 47,
  CAP_AMBIENT_IS_SET: 1,
  CAP_AMBIENT_RAISE: 2,
  CAP_AMBIENT_LOWER: 3,
  CAP_AMBIENT_CLEAR_ALL: 4,
} as const;

export const TIOC = {
  SCTTY: 0x540e,
  SWINSZ: 0x5414,
  GWINSZ: 0x5413,
  GPTN: 0x80045430,
  SPTLCK: 0x40045431,
  GPTPEER: 0x5441,
} as const;

export const F = { GETFD: 1, SETFD: 2, GETFL: 3, SETFL: 4, DUPFD_CLOEXEC: 1030, ADD_SEALS: 1033, GET_SEALS: 1034 } as const;
export const FD_CLOEXEC = 1;

/** Resource numbers for setrlimit/prlimit, keyed by the OCI names. */
export const RLIMIT: Record<string, number> = {
  RLIMIT_CPU: 0,
  RLIMIT_FSIZE: 1,
  RLIMIT_DATA: 2,
  RLIMIT_STACK: 3,
  RLIMIT_CORE: 4,
  RLIMIT_RSS: 5,
  RLIMIT_NPROC: 6,
  RLIMIT_NOFILE: 7,
  RLIMIT_MEMLOCK: 8,
  RLIMIT_AS: 9,
  RLIMIT_LOCKS: 10,
  RLIMIT_SIGPENDING: 11,
  RLIMIT_MSGQUEUE: 12,
  RLIMIT_NICE: 13,
  RLIMIT_RTPRIO: 14,
  RLIMIT_RTTIME: 15,
};

/** Capability numbers, keyed by their OCI/libcap names. */
export const CAPABILITIES: Record<string, number> = {
  CAP_CHOWN: 0,
  CAP_DAC_OVERRIDE: 1,
  CAP_DAC_READ_SEARCH: 2,
  CAP_FOWNER: 3,
  CAP_FSETID: 4,
  CAP_KILL: 5,
  CAP_SETGID: 6,
  CAP_SETUID: 7,
  CAP_SETPCAP: 8,
  CAP_LINUX_IMMUTABLE: 9,
  CAP_NET_BIND_SERVICE: 10,
  CAP_NET_BROADCAST: 11,
  CAP_NET_ADMIN: 12,
  CAP_NET_RAW: 13,
  CAP_IPC_LOCK: 14,
  CAP_IPC_OWNER: 15,
  CAP_SYS_MODULE: 16,
  CAP_SYS_RAWIO: 17,
  CAP_SYS_CHROOT: 18,
  CAP_SYS_PTRACE: 19,
  CAP_SYS_PACCT: 20,
  CAP_SYS_ADMIN: 21,
  CAP_SYS_BOOT: 22,
  CAP_SYS_NICE: 23,
  CAP_SYS_RESOURCE: 24,
  CAP_SYS_TIME: 25,
  CAP_SYS_TTY_CONFIG: 26,
  CAP_MKNOD: 27,
  CAP_LEASE: 28,
  CAP_AUDIT_WRITE: 29,
  CAP_AUDIT_CONTROL: 30,
  CAP_SETFCAP: 31,
  CAP_MAC_OVERRIDE: 32,
  CAP_MAC_ADMIN: 33,
  CAP_SYSLOG: 34,
  CAP_WAKE_ALARM: 35,
  CAP_BLOCK_SUSPEND: 36,
  CAP_AUDIT_READ: 37,
  CAP_PERFMON: 38,
  CAP_BPF: 39,
  CAP_CHECKPOINT_RESTORE: 40,
};

export const SIGNALS: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGIOT: 6,
  SIGBUS: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGSTKFLT: 16,
  SIGCHLD: 17,
  SIGCONT: 18,
  SIGSTOP: 19,
  SIGTSTP: 20,
  SIGTTIN: 21,
  SIGTTOU: 22,
  SIGURG: 23,
  SIGXCPU: 24,
  SIGXFSZ: 25,
  SIGVTALRM: 26,
  SIGPROF: 27,
  SIGWINCH: 28,
  SIGIO: 29,
  SIGPOLL: 29,
  SIGPWR: 30,
  SIGSYS: 31,
};

/** Parse "KILL", "SIGKILL", "9" or "SIGRTMIN+3" into a signal number; undefined when unknown. */
export function parseSignal(text: string): number | undefined {
  const t = text.trim().toUpperCase();
  if (/^\d+$/.test(t)) {
    const n = Number(t);
    return n >= 1 && n <= 64 ? n : undefined;
  }
  const name = t.startsWith('SIG') ? t : `SIG${t}`;
  const rt = /^SIGRTMIN(?:\+(\d+))?$/.exec(name);
  if (rt) {
    const n = 34 + Number(rt[1] ?? 0);
    return n <= 64 ? n : undefined;
  }
  const rtmax = /^SIGRTMAX(?:-(\d+))?$/.exec(name);
  if (rtmax) {
    const n = 64 - Number(rtmax[1] ?? 0);
    return n >= 34 ? n : undefined;
  }
  return SIGNALS[name];
}

/**
 * bpf(2) values for cgroup device filters (uapi linux/bpf.h): program and attach types, attach
 * flags, and how `struct bpf_cgroup_dev_ctx` encodes a request (access_type = ACC << 16 | DEV).
 */
export const BPF = {
  PROG_TYPE_CGROUP_DEVICE: 15,
  /** enum bpf_attach_type */
  CGROUP_DEVICE: 6,
  F_ALLOW_OVERRIDE: 1,
  F_ALLOW_MULTI: 2,
  F_REPLACE: 4,
  DEVCG_ACC_MKNOD: 1,
  DEVCG_ACC_READ: 2,
  DEVCG_ACC_WRITE: 4,
  DEVCG_DEV_BLOCK: 1,
  DEVCG_DEV_CHAR: 2,
} as const;
