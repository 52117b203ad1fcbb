/**
 * A tiny eBPF assembler: the dozen instructions a cgroup device filter needs, with forward jumps
 * to named labels. Encoding per the kernel's `struct bpf_insn` (uapi linux/bpf.h): one byte of
 * opcode, one byte with dst_reg in the low and src_reg in the high nibble, a signed 16-bit jump
 * offset and a signed 32-bit immediate, little-endian (x86_64 and arm64).
 */

export type Reg = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10;
export const R0: Reg = 0;
export const R1: Reg = 1;
export const R2: Reg = 2;
export const R3: Reg = 3;
export const R4: Reg = 4;
export const R5: Reg = 5;

/** Instruction classes, and the size/mode/source/operation fields ORed into an opcode. */
const OP = {
  LDX: 0x01,
  ALU: 0x04, // 32-bit ALU: the upper half of dst is zeroed
  JMP: 0x05, // 64-bit compares
  ALU64: 0x07,
  W: 0x00, // 32-bit load size
  MEM: 0x60,
  K: 0x00, // immediate operand
  AND: 0x50,
  RSH: 0x70,
  MOV: 0xb0,
  JA: 0x00,
  JSET: 0x40,
  JNE: 0x50,
  EXIT: 0x90,
} as const;

const INSN_SIZE = 8;

export interface Insn {
  code: number;
  dst: Reg;
  src: Reg;
  off: number;
  imm: number;
}

/** One instruction's 8 bytes. */
export function encodeInsn(insn: Insn): Buffer {
  const { code, dst, src, off, imm } = insn;
  if (!Number.isInteger(code) || code < 0 || code > 0xff) throw new RangeError(`bad opcode ${code}`);
  if (!Number.isInteger(off) || off < -0x8000 || off > 0x7fff) throw new RangeError(`jump offset ${off} does not fit 16 bits`);
  if (!Number.isInteger(imm) || imm < -0x80000000 || imm > 0x7fffffff) throw new RangeError(`immediate ${imm} does not fit a signed 32-bit field`);
  const b = Buffer.alloc(INSN_SIZE);
  b.writeUInt8(code, 0);
  b.writeUInt8((src << 4) | dst, 1);
  b.writeInt16LE(off, 2);
  b.writeInt32LE(imm, 4);
  return b;
}

interface Pending extends Insn {
  /** Jump target, resolved to `off` by assemble(). */
  target?: string;
}

/** Collects instructions and labels; `assemble()` resolves the jumps and returns the bytes. */
export class BpfAssembler {
  private readonly insns: Pending[] = [];
  private readonly labels = new Map<string, number>();

  /** Instructions so far. */
  get length(): number {
    return this.insns.length;
  }

  /** Name the next instruction. */
  label(name: string): this {
    if (this.labels.has(name)) throw new Error(`label ${name} defined twice`);
    this.labels.set(name, this.insns.length);
    return this;
  }

  /** dst = *(u32 *)(src + off) */
  loadWord(dst: Reg, src: Reg, off: number): this {
    return this.emit({ code: OP.LDX | OP.W | OP.MEM, dst, src, off, imm: 0 });
  }

  /** dst = (u32)dst & imm */
  and32(dst: Reg, imm: number): this {
    return this.emit({ code: OP.ALU | OP.AND | OP.K, dst, src: R0, off: 0, imm });
  }

  /** dst = (u32)dst >> imm */
  rsh32(dst: Reg, imm: number): this {
    return this.emit({ code: OP.ALU | OP.RSH | OP.K, dst, src: R0, off: 0, imm });
  }

  /** dst = imm (sign-extended to 64 bits) */
  mov64Imm(dst: Reg, imm: number): this {
    return this.emit({ code: OP.ALU64 | OP.MOV | OP.K, dst, src: R0, off: 0, imm });
  }

  /** if (dst != imm) goto target */
  jneImm(dst: Reg, imm: number, target: string): this {
    return this.emit({ code: OP.JMP | OP.JNE | OP.K, dst, src: R0, off: 0, imm, target });
  }

  /** if (dst & imm) goto target */
  jsetImm(dst: Reg, imm: number, target: string): this {
    return this.emit({ code: OP.JMP | OP.JSET | OP.K, dst, src: R0, off: 0, imm, target });
  }

  /** goto target */
  ja(target: string): this {
    return this.emit({ code: OP.JMP | OP.JA, dst: R0, src: R0, off: 0, imm: 0, target });
  }

  /** return r0 */
  exit(): this {
    return this.emit({ code: OP.JMP | OP.EXIT, dst: R0, src: R0, off: 0, imm: 0 });
  }

  private emit(insn: Pending): this {
    this.insns.push(insn);
    return this;
  }

  /** Resolved instructions: each jump's offset counts from the instruction after it. */
  instructions(): Insn[] {
    return this.insns.map((insn, pc) => {
      const { target, ...rest } = insn;
      if (target === undefined) return rest;
      const at = this.labels.get(target);
      if (at === undefined) throw new Error(`jump to undefined label ${target}`);
      if (at <= pc) throw new Error(`jump to ${target} goes backwards (a loop): only forward jumps are emitted`);
      if (at >= this.insns.length) throw new Error(`label ${target} is past the last instruction`);
      return { ...rest, off: at - pc - 1 };
    });
  }

  assemble(): Buffer {
    return Buffer.concat(this.instructions().map(encodeInsn));
  }
}
