/**
 * bpf(2) for cgroup device filters: the `union bpf_attr` layouts of the five commands Gantry uses,
 * and their calls through glibc's syscall(2). The encoders are pure (addresses are arguments), so
 * the layouts have unit tests without root.
 */
import type { Libc } from './libc';
import { SysError } from './errors';
import type { BpfProgram } from './sys';

/** glibc through koffi, required on first use so importing this module (for BpfLoadError) loads nothing. */
function libc(): Libc {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('./libc') as typeof import('./libc')).libc();
}

/** enum bpf_cmd */
export const BPF_CMD = {
  PROG_LOAD: 5,
  PROG_ATTACH: 8,
  PROG_DETACH: 9,
  PROG_GET_FD_BY_ID: 13,
  PROG_QUERY: 16,
} as const;

/**
 * Bytes of bpf_attr passed to the kernel. Larger than every struct used here; the kernel accepts a
 * size up to its own union and requires any tail it does not know to be zero (it is).
 */
export const BPF_ATTR_SIZE = 128;
const BPF_OBJ_NAME_LEN = 16;
const ENOSPC = 28;
const EPERM = 1;
const EINVAL = 22;
const RLIMIT_MEMLOCK = 8;
/** Verifier log sizes tried after a refused load (the kernel reports ENOSPC when it did not fit). */
const LOG_SIZES = [64 * 1024, 1024 * 1024, 16 * 1024 * 1024];

/** A program the kernel refused; `log` is the verifier's whole explanation (may be empty). */
export class BpfLoadError extends SysError {
  constructor(
    errno: number,
    readonly log: string,
    subject?: string,
  ) {
    super('bpf(BPF_PROG_LOAD)', errno, subject);
    this.name = 'BpfLoadError';
    // One line (runtime errors are printed one per line); the whole log stays in `log`.
    const tail = log
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('processed '))
      .slice(-3)
      .join(' | ');
    if (tail !== '') this.message += ` (verifier: ${tail})`;
  }
}

export interface ProgLoadAttr {
  type: number;
  insnCount: number;
  insns: bigint;
  license: bigint;
  logLevel?: number;
  logSize?: number;
  logBuf?: bigint;
  name?: string;
}

/** The BPF_PROG_LOAD part of bpf_attr. */
export function encodeProgLoadAttr(a: ProgLoadAttr): Buffer {
  const attr = Buffer.alloc(BPF_ATTR_SIZE);
  attr.writeUInt32LE(a.type, 0);
  attr.writeUInt32LE(a.insnCount, 4);
  attr.writeBigUInt64LE(a.insns, 8);
  attr.writeBigUInt64LE(a.license, 16);
  attr.writeUInt32LE(a.logLevel ?? 0, 24);
  attr.writeUInt32LE(a.logSize ?? 0, 28);
  attr.writeBigUInt64LE(a.logBuf ?? 0n, 32);
  // 40 kern_version, 44 prog_flags: 0
  if (a.name !== undefined) attr.write(checkProgName(a.name), 48, 'latin1');
  return attr;
}

/** BPF_PROG_ATTACH / BPF_PROG_DETACH. */
export function encodeAttachAttr(targetFd: number, progFd: number, attachType: number, flags: number): Buffer {
  const attr = Buffer.alloc(BPF_ATTR_SIZE);
  attr.writeUInt32LE(targetFd, 0);
  attr.writeUInt32LE(progFd, 4);
  attr.writeUInt32LE(attachType, 8);
  attr.writeUInt32LE(flags, 12);
  return attr;
}

/** BPF_PROG_QUERY without BPF_F_QUERY_EFFECTIVE: what is attached to the target itself. */
export function encodeQueryAttr(targetFd: number, attachType: number, progIds: bigint, progCount: number): Buffer {
  const attr = Buffer.alloc(BPF_ATTR_SIZE);
  attr.writeUInt32LE(targetFd, 0);
  attr.writeUInt32LE(attachType, 4);
  // 8 query_flags, 12 attach_flags (out)
  attr.writeBigUInt64LE(progIds, 16);
  attr.writeUInt32LE(progCount, 24);
  return attr;
}

export function encodeGetFdByIdAttr(id: number): Buffer {
  const attr = Buffer.alloc(BPF_ATTR_SIZE);
  attr.writeUInt32LE(id, 0);
  return attr;
}

/** The kernel takes [A-Za-z0-9_.] and at most 15 characters (plus the NUL). */
function checkProgName(name: string): string {
  if (name.length >= BPF_OBJ_NAME_LEN || !/^[A-Za-z0-9_.]*$/.test(name)) {
    throw new SysError('bpf(BPF_PROG_LOAD)', EINVAL, `program name ${JSON.stringify(name)}`);
  }
  return name;
}

function bpf(cmd: number, attr: Buffer): number {
  return libc().bpf(cmd, attr, attr.length);
}

/** A NUL-terminated copy in its own allocation, so its address is stable for the call. */
function cString(s: string): Buffer {
  const buf = Buffer.alloc(Buffer.byteLength(s) + 1);
  buf.write(s, 0);
  return buf;
}

export function bpfProgLoad(prog: BpfProgram): number {
  if (prog.insns.length === 0 || prog.insns.length % 8 !== 0) {
    throw new SysError('bpf(BPF_PROG_LOAD)', EINVAL, `instructions are ${prog.insns.length} bytes, not a multiple of 8`);
  }
  const c = libc();
  const insns = Buffer.alloc(prog.insns.length);
  prog.insns.copy(insns);
  const license = cString(prog.license);
  const base = { type: prog.type, insnCount: insns.length / 8, insns: c.address(insns), license: c.address(license), name: prog.name };
  let fd = bpf(BPF_CMD.PROG_LOAD, encodeProgLoadAttr(base));
  if (fd < 0 && c.errno() === EPERM && raiseMemlock()) {
    // Kernels before 5.11 charge programs to RLIMIT_MEMLOCK; a low limit shows up as EPERM.
    fd = bpf(BPF_CMD.PROG_LOAD, encodeProgLoadAttr(base));
  }
  if (fd >= 0) return fd;
  const firstErrno = c.errno();
  // Load again with the verifier log on, to say why.
  for (const size of LOG_SIZES) {
    const log = Buffer.alloc(size);
    fd = bpf(BPF_CMD.PROG_LOAD, encodeProgLoadAttr({ ...base, logLevel: 1, logSize: size, logBuf: c.address(log) }));
    if (fd >= 0) return fd; // refused only the first time (e.g. a transient ENOMEM)
    const errno = c.errno();
    if (errno === ENOSPC && size !== LOG_SIZES[LOG_SIZES.length - 1]) continue;
    const end = log.indexOf(0);
    throw new BpfLoadError(errno === ENOSPC ? firstErrno : errno, log.subarray(0, end < 0 ? log.length : end).toString('utf8'), prog.name);
  }
  throw new BpfLoadError(firstErrno, '', prog.name);
}

/** RLIMIT_MEMLOCK to infinity (as runc and crun do); false when not permitted. */
function raiseMemlock(): boolean {
  const limit = Buffer.alloc(16, 0xff);
  return libc().prlimit(0, RLIMIT_MEMLOCK, limit, null) === 0;
}

function check(ret: number, what: string, subject?: string): number {
  if (ret < 0) throw new SysError(`bpf(${what})`, libc().errno(), subject);
  return ret;
}

export function bpfProgAttach(targetFd: number, progFd: number, attachType: number, flags: number): void {
  check(bpf(BPF_CMD.PROG_ATTACH, encodeAttachAttr(targetFd, progFd, attachType, flags)), 'BPF_PROG_ATTACH', `fd ${targetFd}`);
}

export function bpfProgDetach(targetFd: number, progFd: number, attachType: number): void {
  check(bpf(BPF_CMD.PROG_DETACH, encodeAttachAttr(targetFd, progFd, attachType, 0)), 'BPF_PROG_DETACH', `fd ${targetFd}`);
}

export function bpfProgQuery(targetFd: number, attachType: number): number[] {
  const c = libc();
  // The kernel writes the real count back into prog_cnt; ENOSPC means the array was too small.
  for (let count = 64; ;) {
    const ids = Buffer.alloc(count * 4);
    const attr = encodeQueryAttr(targetFd, attachType, c.address(ids), count);
    const ret = bpf(BPF_CMD.PROG_QUERY, attr);
    const got = attr.readUInt32LE(24);
    if (ret < 0) {
      if (c.errno() === ENOSPC && got > count) {
        count = got;
        continue;
      }
      throw new SysError('bpf(BPF_PROG_QUERY)', c.errno(), `fd ${targetFd}`);
    }
    return Array.from({ length: got }, (_, i) => ids.readUInt32LE(i * 4));
  }
}

export function bpfProgGetFdById(id: number): number {
  return check(bpf(BPF_CMD.PROG_GET_FD_BY_ID, encodeGetFdByIdAttr(id)), 'BPF_PROG_GET_FD_BY_ID', `id ${id}`);
}
