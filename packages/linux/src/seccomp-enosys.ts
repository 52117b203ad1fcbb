/**
 * The "-ENOSYS stub" runc puts in front of a seccomp filter. A profile denies everything it does not
 * list with its default action (often EPERM); for a syscall newer than every syscall the profile
 * knows, that is wrong: programs probe new syscalls (clone3, faccessat2, ...) and fall back only on
 * ENOSYS. So before the filter, per architecture: a syscall number above the largest one the profile
 * names gets ERRNO(ENOSYS); everything else goes on to the filter.
 *
 * Classic BPF over `struct seccomp_data` (nr at offset 0, arch at offset 4), 8 bytes per instruction.
 */

/** AUDIT_ARCH_X86_64; x32 syscalls come with this arch and bit 30 set in the number. */
export const AUDIT_ARCH_X86_64 = 0xc000003e;
/** libseccomp's token for x32 (SCMP_ARCH_X32): not an AUDIT_ARCH value of its own. */
export const SCMP_ARCH_X32_TOKEN = 0x4000003e;
export const X32_SYSCALL_BIT = 0x40000000;

const ENOSYS = 38;
const RET_ERRNO_ENOSYS = (0x00050000 | ENOSYS) >>> 0;

const LD_W_ABS = 0x20;
const JMP_JA = 0x05;
const JMP_JEQ_K = 0x15;
const JMP_JGT_K = 0x25;
const JMP_JSET_K = 0x45;
const RET_K = 0x06;

/** The largest syscall number a profile names, per kernel architecture (x86_64 split into its two ABIs). */
export interface ArchLimit {
  /** AUDIT_ARCH_* value as the kernel reports it in seccomp_data.arch. */
  audit: number;
  /** Largest syscall number of the native ABI, if the profile covers it. */
  max?: number;
  /** x86_64 only: largest x32 syscall number (bit 30 included), if the profile covers x32. */
  x32Max?: number;
}

interface Insn {
  code: number;
  k: number;
  /** Labels of the true/false targets of a conditional jump, or the target of JA. */
  jt?: string;
  jf?: string;
  label?: string;
}

/**
 * The stub's instructions (8 bytes each). Every path ends in RET ERRNO(ENOSYS) or falls through to
 * the first instruction after the stub, where the real filter starts.
 */
export function enosysStub(limits: readonly ArchLimit[]): Buffer {
  if (limits.length === 0) return Buffer.alloc(0);
  // dispatch on the architecture; an architecture the profile does not cover goes to the filter
  const dispatch: Insn[] = [{ code: LD_W_ABS, k: 4 }];
  limits.forEach((l, i) =>
    dispatch.push({ code: JMP_JEQ_K, k: l.audit >>> 0, jt: `arch${i}`, jf: i + 1 < limits.length ? `check${i + 1}` : 'filter', label: `check${i}` }),
  );
  const body: Insn[] = [...dispatch];
  limits.forEach((l, i) => {
    body.push({ code: LD_W_ABS, k: 0, label: `arch${i}` });
    if (l.audit === AUDIT_ARCH_X86_64) {
      // bit 30 set: an x32 syscall; the native limit must not apply to it (nor the x32 one to native)
      body.push({
        code: JMP_JSET_K,
        k: X32_SYSCALL_BIT,
        jt: l.x32Max !== undefined ? `x32_${i}` : 'filter',
        jf: l.max !== undefined ? `native${i}` : 'filter',
      });
      if (l.max !== undefined) body.push({ code: JMP_JGT_K, k: l.max, jt: 'enosys', jf: 'filter', label: `native${i}` });
      if (l.x32Max !== undefined) body.push({ code: JMP_JGT_K, k: l.x32Max >>> 0, jt: 'enosys', jf: 'filter', label: `x32_${i}` });
    } else if (l.max !== undefined) {
      body.push({ code: JMP_JGT_K, k: l.max, jt: 'enosys', jf: 'filter' });
    } else {
      body.push({ code: JMP_JA, k: 0, jt: 'filter' });
    }
  });
  body.push({ code: RET_K, k: RET_ERRNO_ENOSYS, label: 'enosys' });

  const at = new Map<string, number>();
  body.forEach((insn, idx) => insn.label && at.set(insn.label, idx));
  at.set('filter', body.length);
  const out = Buffer.alloc(body.length * 8);
  body.forEach((insn, idx) => {
    const rel = (label: string | undefined): number => {
      const target = label === undefined ? idx + 1 : at.get(label);
      if (target === undefined) throw new Error(`seccomp stub: no label ${label}`);
      const off = target - idx - 1;
      if (off < 0 || (insn.code !== JMP_JA && off > 255)) throw new Error(`seccomp stub: jump to ${label} out of range`);
      return off;
    };
    let jt = 0;
    let jf = 0;
    let k = insn.k;
    if (insn.code === JMP_JA) k = rel(insn.jt);
    else if ((insn.code & 0x07) === 0x05) {
      jt = rel(insn.jt);
      jf = rel(insn.jf);
    }
    out.writeUInt16LE(insn.code, idx * 8);
    out.writeUInt8(jt, idx * 8 + 2);
    out.writeUInt8(jf, idx * 8 + 3);
    out.writeUInt32LE(k >>> 0, idx * 8 + 4);
  });
  return out;
}
