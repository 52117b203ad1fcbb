/**
 * Seccomp through libseccomp (koffi). libseccomp compiles the rules to BPF and loads them on the
 * calling thread only: TSYNC is never set, because the filter is meant for the container's init
 * thread, which execve()s right after (the kernel then drops Node's other threads).
 *
 * koffi is required lazily so importing this module (for `seccompFeatures`) costs nothing until used.
 */
import type * as Koffi from 'koffi';
import { SysError } from './errors';
import { AUDIT_ARCH_X86_64, SCMP_ARCH_X32_TOKEN, enosysStub, type ArchLimit } from './seccomp-enosys';
import type { CompiledSeccomp, SeccompActionName, SeccompArgRule, SeccompFilter, SeccompOperatorName, SeccompRule } from './sys';

const LIBRARY = 'libseccomp.so.2';

const EPERM = 1;
const ENOENT = 2;
const EEXIST = 17;
const EINVAL = 22;
const EOPNOTSUPP = 95;

// Action encodings from seccomp.h. ERRNO and TRACE carry a 16-bit value in the low bits.
const ACT_KILL_PROCESS = 0x80000000;
const ACT_KILL_THREAD = 0x00000000;
const ACT_TRAP = 0x00030000;
const ACT_ERRNO = 0x00050000;
const ACT_TRACE = 0x7ff00000;
const ACT_LOG = 0x7ffc0000;
const ACT_ALLOW = 0x7fff0000;
const ACT_NOTIFY = 0x7fc00000;

const ACTION_BASE: Record<SeccompActionName, number> = {
  SCMP_ACT_KILL: ACT_KILL_THREAD, // the historical name of KILL_THREAD, as in runc
  SCMP_ACT_KILL_THREAD: ACT_KILL_THREAD,
  SCMP_ACT_KILL_PROCESS: ACT_KILL_PROCESS,
  SCMP_ACT_TRAP: ACT_TRAP,
  SCMP_ACT_ERRNO: ACT_ERRNO,
  SCMP_ACT_TRACE: ACT_TRACE,
  SCMP_ACT_LOG: ACT_LOG,
  SCMP_ACT_ALLOW: ACT_ALLOW,
  SCMP_ACT_NOTIFY: ACT_NOTIFY,
};
/** Actions that need seccomp_api_get() >= 3 (kernel 4.14+). */
const ACTIONS_NEEDING_API3: ReadonlySet<SeccompActionName> = new Set(['SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_LOG']);
/** SCMP_ACT_NOTIFY needs seccomp_api_get() >= 6 (kernel 5.5+, for the listener's ioctls). */
const NOTIFY_API = 6;

// enum scmp_compare
const OPERATORS: Record<SeccompOperatorName, number> = {
  SCMP_CMP_NE: 1,
  SCMP_CMP_LT: 2,
  SCMP_CMP_LE: 3,
  SCMP_CMP_EQ: 4,
  SCMP_CMP_GE: 5,
  SCMP_CMP_GT: 6,
  SCMP_CMP_MASKED_EQ: 7,
};

// enum scmp_filter_attr
const ATTR_CTL_NNP = 3;
const ATTR_CTL_LOG = 6;
const ATTR_CTL_SSB = 7;
const ATTR_CTL_OPTIMIZE = 8;
const ATTR_API_SYSRAWRC = 9;
const ATTR_CTL_WAITKILL = 10; // libseccomp >= 2.6

/**
 * OCI filter flags and the libseccomp attribute each one sets. TSYNC is accepted and ignored, as runc
 * does: syncing would put the filter on every Node thread, while it must stay on the init thread.
 */
const FLAG_ATTRS: Record<string, number | null> = {
  SECCOMP_FILTER_FLAG_TSYNC: null,
  SECCOMP_FILTER_FLAG_LOG: ATTR_CTL_LOG,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: ATTR_CTL_SSB,
  SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: ATTR_CTL_WAITKILL,
};

/** SCMP_ARCH_* names Gantry knows; `features` reports those this libseccomp resolves. */
const KNOWN_ARCHS = [
  'SCMP_ARCH_AARCH64',
  'SCMP_ARCH_ARM',
  'SCMP_ARCH_LOONGARCH64',
  'SCMP_ARCH_M68K',
  'SCMP_ARCH_MIPS',
  'SCMP_ARCH_MIPS64',
  'SCMP_ARCH_MIPS64N32',
  'SCMP_ARCH_MIPSEL',
  'SCMP_ARCH_MIPSEL64',
  'SCMP_ARCH_MIPSEL64N32',
  'SCMP_ARCH_PARISC',
  'SCMP_ARCH_PARISC64',
  'SCMP_ARCH_PPC',
  'SCMP_ARCH_PPC64',
  'SCMP_ARCH_PPC64LE',
  'SCMP_ARCH_RISCV64',
  'SCMP_ARCH_S390',
  'SCMP_ARCH_S390X',
  'SCMP_ARCH_SH',
  'SCMP_ARCH_SHEB',
  'SCMP_ARCH_X32',
  'SCMP_ARCH_X86',
  'SCMP_ARCH_X86_64',
];

/** Returned by seccomp_syscall_resolve_name for names it does not know. */
const NR_SCMP_ERROR = -1;
/** Linux syscalls take at most six arguments. */
const MAX_ARGS = 6;
/** runc's threshold for libseccomp's binary-tree layout; small filters are faster as a list. */
const BINARY_TREE_MIN_RULES = 32;

/** One `struct scmp_arg_cmp` as koffi marshals it. */
interface ArgCmp {
  arg: number;
  op: number;
  datum_a: bigint;
  datum_b: bigint;
}

/** A libseccomp filter context (`scmp_filter_ctx`): a pointer, which koffi 3 gives as a BigInt. */
type FilterCtx = bigint;

interface LibSeccomp {
  init(defAction: number): FilterCtx | null;
  release(ctx: FilterCtx): void;
  archAdd(ctx: FilterCtx, token: number): number;
  archResolveName(name: string): number;
  archNative(): number;
  syscallResolveName(name: string): number;
  ruleAddArray(ctx: FilterCtx, action: number, syscall: number, count: number, args: ArgCmp[] | null): number;
  attrSet(ctx: FilterCtx, attr: number, value: number): number;
  load(ctx: FilterCtx): number;
  notifyFd(ctx: FilterCtx): number;
  exportBpf(ctx: FilterCtx, fd: number): number;
  syscallResolveNameArch(archToken: number, name: string): number;
  apiGet(): number;
  version: string;
  /** libc calls for loading a patched program ourselves (see loadProgram). */
  pipe2(fds: Int32Array, flags: number): number;
  read(fd: number, buf: Buffer, count: number): number;
  close(fd: number): number;
  seccompSyscall(nr: number, op: number, flags: number, args: Buffer): number;
  errno(): number;
  address(buf: Buffer): bigint;
}

let cached: LibSeccomp | undefined;

function libseccomp(): LibSeccomp {
  if (cached) return cached;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const koffi = require('koffi') as typeof Koffi;
  let lib: Koffi.LibraryHandle;
  try {
    lib = koffi.load(LIBRARY);
  } catch (err) {
    throw new SysError('dlopen', ENOENT, `${LIBRARY} (${(err as Error).message})`);
  }
  // Anonymous structs: koffi's type names are process-wide, and this module may be loaded twice (jest).
  const Version = koffi.struct({ major: 'unsigned int', minor: 'unsigned int', micro: 'unsigned int' });
  const ArgCmpType = koffi.struct({ arg: 'unsigned int', op: 'int', datum_a: 'uint64_t', datum_b: 'uint64_t' });
  const f = <T>(proto: string) => lib.func(proto) as unknown as T;
  // already mapped in every process, so this needs no file system access (after pivot_root too)
  const libcLib = koffi.load('libc.so.6');
  const libcFn = <T>(proto: string) => libcLib.func(proto) as unknown as T;

  const versionFn = lib.func('seccomp_version', koffi.pointer(Version), []) as unknown as () => bigint | null;
  const versionPtr = versionFn();
  const v = versionPtr ? (koffi.decode(versionPtr, Version) as { major: number; minor: number; micro: number }) : undefined;

  cached = {
    init: f('void *seccomp_init(uint32_t def_action)'),
    release: f('void seccomp_release(void *ctx)'),
    archAdd: f('int seccomp_arch_add(void *ctx, uint32_t arch_token)'),
    archResolveName: f('uint32_t seccomp_arch_resolve_name(const char *arch_name)'),
    archNative: f('uint32_t seccomp_arch_native(void)'),
    syscallResolveName: f('int seccomp_syscall_resolve_name(const char *name)'),
    ruleAddArray: lib.func('seccomp_rule_add_array', 'int', [
      'void *',
      'uint32_t',
      'int',
      'unsigned int',
      koffi.pointer(ArgCmpType),
    ]) as unknown as LibSeccomp['ruleAddArray'],
    attrSet: f('int seccomp_attr_set(void *ctx, int attr, uint32_t value)'),
    load: f('int seccomp_load(void *ctx)'),
    notifyFd: f('int seccomp_notify_fd(void *ctx)'),
    exportBpf: f('int seccomp_export_bpf(void *ctx, int fd)'),
    syscallResolveNameArch: f('int seccomp_syscall_resolve_name_arch(uint32_t arch_token, const char *name)'),
    apiGet: f('unsigned int seccomp_api_get(void)'),
    version: v ? `${v.major}.${v.minor}.${v.micro}` : '',
    pipe2: libcFn('int pipe2(_Out_ int *fds, int flags)'),
    read: libcFn('long read(int fd, _Out_ void *buf, size_t count)'),
    close: libcFn('int close(int fd)'),
    seccompSyscall: libcFn('long syscall(long nr, unsigned long op, unsigned long flags, void *args)'),
    errno: () => koffi.errno(),
    address: (buf: Buffer) => koffi.address(buf) as bigint,
  };
  return cached;
}

/**
 * Load libseccomp and resolve every function now. The container init stage calls this before
 * pivot_root, while the host's /usr/lib is still reachable; it also probes the kernel's seccomp API
 * level, which libseccomp caches, so nothing is looked up lazily later.
 */
export function preloadSeccomp(): void {
  libseccomp().apiGet();
}

/** libseccomp's numeric encoding of an action; ERRNO and TRACE default to EPERM as in runc. */
function encodeAction(name: string, errnoRet: number | undefined, where: string): number {
  if (!Object.prototype.hasOwnProperty.call(ACTION_BASE, name)) {
    throw new SysError('seccomp', EINVAL, `${where}: unknown action ${JSON.stringify(name)}`);
  }
  const base = ACTION_BASE[name as SeccompActionName];
  if (base === ACT_ERRNO || base === ACT_TRACE) return (base | ((errnoRet ?? EPERM) & 0xffff)) >>> 0;
  return base;
}

/** Throw a SysError for libseccomp's -errno returns. */
function check(rc: number, fn: string, subject: string): void {
  if (rc < 0) throw new SysError(fn, -rc, subject);
}

function toArgCmp(arg: SeccompArgRule, syscall: string): ArgCmp {
  if (!Number.isInteger(arg.index) || arg.index < 0 || arg.index >= MAX_ARGS) {
    throw new SysError('seccomp', EINVAL, `${syscall}: argument index ${arg.index} out of range 0..5`);
  }
  const op = OPERATORS[arg.op];
  if (op === undefined) throw new SysError('seccomp', EINVAL, `${syscall}: unknown operator ${JSON.stringify(arg.op)}`);
  return { arg: arg.index, op, datum_a: BigInt.asUintN(64, arg.value), datum_b: BigInt.asUintN(64, arg.valueTwo) };
}

/**
 * Add one OCI rule for each of its names. Like runc: names libseccomp does not know are skipped (an
 * older kernel or library), and when two conditions test the same argument each condition becomes
 * its own rule (OR), since libseccomp ANDs conditions and would never match; otherwise all
 * conditions go in one rule (AND). Returns how many syscalls got a rule.
 */
function addRule(lib: LibSeccomp, ctx: FilterCtx, rule: SeccompRule, defaultAction: number): number {
  const action = encodeAction(rule.action, rule.errnoRet, `rule for ${rule.names.join(',')}`);
  // libseccomp refuses a rule whose action equals the default (EACCES); it would be a no-op anyway.
  if (action === defaultAction) return 0;

  const conds = rule.args.map((a) => toArgCmp(a, rule.names.join(',')));
  const perIndex = new Array<number>(MAX_ARGS).fill(0);
  for (const c of conds) perIndex[c.arg]++;
  const groups = perIndex.some((n) => n > 1) ? conds.map((c) => [c]) : [conds];

  let added = 0;
  for (const name of rule.names) {
    const nr = lib.syscallResolveName(name);
    if (nr === NR_SCMP_ERROR) continue;
    for (const group of groups) {
      check(lib.ruleAddArray(ctx, action, nr, group.length, group.length > 0 ? group : null), 'seccomp_rule_add', name);
    }
    added++;
  }
  return added;
}

/**
 * Add an architecture. Names this libseccomp cannot resolve or build for are skipped, so one profile
 * listing every arch works anywhere; EEXIST (the native arch, always present) is ignored as in runc.
 */
function addArchitecture(lib: LibSeccomp, ctx: FilterCtx, name: string): void {
  if (!name.startsWith('SCMP_ARCH_')) return;
  const token = lib.archResolveName(name.slice('SCMP_ARCH_'.length).toLowerCase());
  if (token === 0) return;
  const rc = lib.archAdd(ctx, token);
  if (rc === -EEXIST || rc === -EINVAL) return; // already in (the native arch) / not supported by this build
  check(rc, 'seccomp_arch_add', name);
}

function applyFlag(lib: LibSeccomp, ctx: FilterCtx, flag: string): void {
  if (!Object.prototype.hasOwnProperty.call(FLAG_ATTRS, flag)) {
    throw new SysError('seccomp', EINVAL, `unknown filter flag ${JSON.stringify(flag)}`);
  }
  const attr = FLAG_ATTRS[flag];
  if (attr === null) return;
  check(lib.attrSet(ctx, attr, 1), 'seccomp_attr_set', flag);
}

/**
 * Compile an OCI seccomp filter with libseccomp and load it on the calling thread.
 * no_new_privs is left as it is (the runtime sets it when the spec asks), so loading needs
 * CAP_SYS_ADMIN unless no_new_privs is already set. With SCMP_ACT_NOTIFY rules the filter is
 * loaded with a listener, whose fd (close-on-exec) is returned for the seccomp agent.
 */
export function loadSeccompFilter(filter: SeccompFilter): number | undefined {
  return withFilter(filter, (lib, ctx, f) => {
    if (f.limits.length === 0) {
      // libseccomp asks for a listener itself when the filter has notify rules
      check(lib.load(ctx), 'seccomp_load', `${f.added} rules`);
      if (!f.notify) return undefined;
      const fd = lib.notifyFd(ctx);
      if (fd < 0) throw new SysError('seccomp_notify_fd', -fd);
      return fd;
    }
    const fd = loadProgram(lib, Buffer.concat([enosysStub(f.limits), exportProgram(lib, ctx)]), f.flags);
    return f.notify ? fd : undefined;
  });
}

/**
 * The program `loadSeccompFilter` would load, compiled here to be loaded elsewhere with
 * `loadSeccompProgram` (the runtime compiles once in a warm process; a stage that starts cold only
 * loads). Undefined where seccomp(2) is not called directly (not x86_64): load the filter there.
 */
export function compileSeccompFilter(filter: SeccompFilter): CompiledSeccomp | undefined {
  if (process.arch !== 'x64') return undefined;
  return withFilter(filter, (lib, ctx, f) => {
    const program = exportProgram(lib, ctx);
    return {
      program: (f.limits.length === 0 ? program : Buffer.concat([enosysStub(f.limits), program])).toString('base64'),
      flags: f.flags,
      notify: f.notify,
    };
  });
}

/** Load a compiled filter on the calling thread: the listener fd with SCMP_ACT_NOTIFY rules, as `loadSeccompFilter`. */
export function loadSeccompProgram(compiled: CompiledSeccomp): number | undefined {
  const fd = loadProgram(libseccomp(), Buffer.from(compiled.program, 'base64'), compiled.flags);
  return compiled.notify ? fd : undefined;
}

interface BuiltFilter {
  added: number;
  notify: boolean;
  /** Architectures that need the ENOSYS stub in front of libseccomp's program (empty: none). */
  limits: ArchLimit[];
  /** seccomp(2) flags for the program with its stub. */
  flags: number;
}

/** The filter built in a libseccomp context, for `fn`; the context is released after. */
function withFilter<T>(filter: SeccompFilter, fn: (lib: LibSeccomp, ctx: FilterCtx, built: BuiltFilter) => T): T {
  const lib = libseccomp();
  // every syscall, the agent's own answers included, would wait for the agent
  if (filter.defaultAction === 'SCMP_ACT_NOTIFY') throw new SysError('seccomp', EINVAL, 'SCMP_ACT_NOTIFY cannot be the default action');
  const notify = filter.rules.some((r) => r.action === 'SCMP_ACT_NOTIFY');
  if (notify && lib.apiGet() < NOTIFY_API) {
    throw new SysError('seccomp', EOPNOTSUPP, `SCMP_ACT_NOTIFY needs seccomp API level ${NOTIFY_API} (kernel 5.5+), this host has ${lib.apiGet()}`);
  }
  const defaultAction = encodeAction(filter.defaultAction, filter.defaultErrnoRet, 'default action');
  const ctx = lib.init(defaultAction);
  if (!ctx) throw new SysError('seccomp_init', EINVAL, `default action ${filter.defaultAction}`);
  try {
    check(lib.attrSet(ctx, ATTR_CTL_NNP, 0), 'seccomp_attr_set', 'SCMP_FLTATR_CTL_NNP');
    // Best effort: makes seccomp_load report the kernel's errno rather than ECANCELED.
    lib.attrSet(ctx, ATTR_API_SYSRAWRC, 1);
    // Architectures first: rules only apply to the architectures present when they are added.
    for (const arch of filter.architectures) addArchitecture(lib, ctx, arch);
    for (const flag of filter.flags) applyFlag(lib, ctx, flag);
    let added = 0;
    for (const rule of filter.rules) added += addRule(lib, ctx, rule, defaultAction);
    // Best effort, as in runc (older libseccomp lacks it).
    if (added > BINARY_TREE_MIN_RULES) lib.attrSet(ctx, ATTR_CTL_OPTIMIZE, 2);
    // SYS_seccomp below is x86_64's number: elsewhere libseccomp's filter goes in as it is
    const limits = process.arch === 'x64' && needsEnosysStub(defaultAction) ? archLimits(lib, filter) : [];
    const flags = kernelFlags(filter.flags) | (notify ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0);
    return fn(lib, ctx, { added, notify, limits, flags });
  } finally {
    lib.release(ctx);
  }
}

/** As runc: no stub when the default already lets unknown syscalls through. */
function needsEnosysStub(defaultAction: number): boolean {
  const base = (defaultAction & 0xffff0000) >>> 0;
  return base !== ACT_ALLOW && base !== ACT_LOG && base !== ACT_TRACE;
}

/** The largest syscall number the profile names, for each architecture it lists (runc's rule). */
function archLimits(lib: Pick<LibSeccomp, 'archResolveName' | 'syscallResolveNameArch'>, filter: SeccompFilter): ArchLimit[] {
  const names = [...new Set(filter.rules.flatMap((r) => r.names))];
  const byAudit = new Map<number, ArchLimit>();
  for (const arch of new Set(filter.architectures)) {
    if (!arch.startsWith('SCMP_ARCH_')) continue;
    const token = lib.archResolveName(arch.slice('SCMP_ARCH_'.length).toLowerCase()) >>> 0;
    if (token === 0) continue;
    let max = -1;
    for (const name of names) max = Math.max(max, lib.syscallResolveNameArch(token, name));
    if (max <= 0) continue;
    const x32 = token === SCMP_ARCH_X32_TOKEN;
    const audit = x32 ? AUDIT_ARCH_X86_64 : token;
    const limit = byAudit.get(audit) ?? { audit };
    if (x32) limit.x32Max = max;
    else limit.max = max;
    byAudit.set(audit, limit);
  }
  return [...byAudit.values()];
}

/** libseccomp's compiled BPF program (seccomp_export_bpf), through a pipe. */
function exportProgram(lib: LibSeccomp, ctx: FilterCtx): Buffer {
  const fds = new Int32Array(2);
  if (lib.pipe2(fds, O_CLOEXEC) < 0) throw new SysError('pipe2', lib.errno());
  const [r, w] = [fds[0]!, fds[1]!];
  try {
    // A program is at most 4096 instructions (32 KiB): it fits in the pipe, so this cannot block.
    check(lib.exportBpf(ctx, w), 'seccomp_export_bpf', 'pipe');
    lib.close(w);
    const chunks: Buffer[] = [];
    for (;;) {
      const buf = Buffer.alloc(65536);
      const n = lib.read(r, buf, buf.length);
      if (n < 0) throw new SysError('read', lib.errno(), 'seccomp program');
      if (n === 0) break;
      chunks.push(buf.subarray(0, n));
    }
    return Buffer.concat(chunks);
  } finally {
    lib.close(r);
    lib.close(w);
  }
}

const SYS_SECCOMP = 317; // x86_64
const SECCOMP_SET_MODE_FILTER = 1;
/** seccomp(2) returns a listener fd (close-on-exec) for the filter's SECCOMP_RET_USER_NOTIF actions. */
const SECCOMP_FILTER_FLAG_NEW_LISTENER = 8;
const O_CLOEXEC = 0o2000000;
const BPF_MAXINSNS = 4096;

/** seccomp(2) flags for the OCI filter flags (TSYNC never: see FLAG_ATTRS). */
function kernelFlags(flags: readonly string[]): number {
  const bits: Record<string, number> = { SECCOMP_FILTER_FLAG_LOG: 2, SECCOMP_FILTER_FLAG_SPEC_ALLOW: 4, SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: 32 };
  return flags.reduce((acc, f) => acc | (bits[f] ?? 0), 0);
}

/** seccomp(SECCOMP_SET_MODE_FILTER) with our own program, on the calling thread: the syscall's result. */
function loadProgram(lib: LibSeccomp, program: Buffer, flags: number): number {
  if (program.length % 8 !== 0 || program.length / 8 > BPF_MAXINSNS) {
    throw new SysError('seccomp', EINVAL, `filter of ${program.length / 8} instructions`);
  }
  const fprog = Buffer.alloc(16); // struct sock_fprog { unsigned short len; struct sock_filter *filter; }
  fprog.writeUInt16LE(program.length / 8, 0);
  fprog.writeBigUInt64LE(lib.address(program), 8);
  const ret = lib.seccompSyscall(SYS_SECCOMP, SECCOMP_SET_MODE_FILTER, flags, fprog);
  if (ret < 0) throw new SysError('seccomp', lib.errno(), `${program.length / 8} instructions`);
  return ret;
}

/** The `linux.seccomp` object of `features` output (runtime-spec features.md), plus the library version. */
export interface SeccompFeatures {
  enabled: boolean;
  actions: string[];
  operators: string[];
  archs: string[];
  knownFlags: string[];
  supportedFlags: string[];
  /** libseccomp version, "major.minor.micro"; runc reports it as the `io.github.seccomp.libseccomp.version` annotation. */
  version: string;
}

/** What this host supports: probes libseccomp and the kernel; never loads a filter. */
export function seccompFeatures(): SeccompFeatures {
  const knownFlags = Object.keys(FLAG_ATTRS);
  let lib: LibSeccomp;
  try {
    lib = libseccomp();
  } catch {
    return { enabled: false, actions: [], operators: [], archs: [], knownFlags, supportedFlags: [], version: '' };
  }
  const api = lib.apiGet();
  const actions = (Object.keys(ACTION_BASE) as SeccompActionName[]).filter(
    (a) => (api >= 3 || !ACTIONS_NEEDING_API3.has(a)) && (a !== 'SCMP_ACT_NOTIFY' || api >= NOTIFY_API),
  );
  const archs = KNOWN_ARCHS.filter((a) => lib.archResolveName(a.slice('SCMP_ARCH_'.length).toLowerCase()) !== 0);
  return {
    enabled: true,
    actions: actions.sort(),
    operators: Object.keys(OPERATORS).sort(),
    archs,
    knownFlags,
    supportedFlags: knownFlags.filter((flag) => flagSupported(lib, flag)),
    version: lib.version,
  };
}

/** A flag is supported when libseccomp accepts its attribute (it checks the kernel's API level). */
function flagSupported(lib: LibSeccomp, flag: string): boolean {
  const attr = FLAG_ATTRS[flag];
  if (attr === null || attr === undefined) return attr === null;
  const ctx = lib.init(ACT_ALLOW);
  if (!ctx) return false;
  try {
    return lib.attrSet(ctx, attr, 1) === 0;
  } finally {
    lib.release(ctx);
  }
}
