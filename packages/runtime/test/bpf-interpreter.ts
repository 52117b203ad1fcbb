/**
 * Test helper: runs a cgroup device filter the way the kernel would, for the few opcodes the
 * builder emits, so rule semantics have tests without root. Unknown opcodes, reads outside the
 * 12-byte context, loops and an unset r0 at exit all throw (the kernel's verifier would refuse).
 */
export interface DeviceRequest {
  type: 'b' | 'c';
  major: number;
  minor: number;
  /** Letters r, w, m; or a raw access mask. */
  access: string | number;
}

const MASK64 = (1n << 64n) - 1n;
const MASK32 = (1n << 32n) - 1n;
const sext32 = (imm: number): bigint => BigInt.asUintN(64, BigInt(imm));

export function runDeviceFilter(program: Buffer, req: DeviceRequest): boolean {
  const access = typeof req.access === 'number' ? req.access : [...req.access].reduce((m, c) => m | ({ m: 1, r: 2, w: 4 } as Record<string, number>)[c]!, 0);
  const ctx = Buffer.alloc(12);
  ctx.writeUInt32LE(((access << 16) | (req.type === 'b' ? 1 : 2)) >>> 0, 0);
  ctx.writeUInt32LE(req.major, 4);
  ctx.writeUInt32LE(req.minor, 8);
  const regs: (bigint | undefined)[] = new Array(11).fill(undefined);
  const CTX = -1n; // r1 holds the context pointer, nothing else does
  regs[1] = CTX;
  const n = program.length / 8;
  for (let pc = 0, steps = 0; pc < n; pc++, steps++) {
    if (steps > n) throw new Error('loop');
    const code = program[pc * 8]!;
    const dst = program[pc * 8 + 1]! & 0xf;
    const src = program[pc * 8 + 1]! >> 4;
    const off = program.readInt16LE(pc * 8 + 2);
    const imm = program.readInt32LE(pc * 8 + 4);
    const reg = (r: number): bigint => {
      const v = regs[r];
      if (v === undefined || v === CTX) throw new Error(`pc ${pc}: r${r} is not a readable scalar`);
      return v;
    };
    const jump = (taken: boolean): void => {
      if (off < 0) throw new Error(`pc ${pc}: backward jump`);
      if (taken) pc += off;
    };
    switch (code) {
      case 0x61: // ldxw dst, [src+off]
        if (regs[src] !== CTX || off < 0 || off + 4 > 12 || off % 4 !== 0) throw new Error(`pc ${pc}: bad context load`);
        regs[dst] = BigInt(ctx.readUInt32LE(off));
        break;
      case 0x54: // and32
        regs[dst] = reg(dst) & BigInt(imm >>> 0) & MASK32;
        break;
      case 0x74: // rsh32
        regs[dst] = (reg(dst) & MASK32) >> BigInt(imm);
        break;
      case 0xb7: // mov64 imm
        regs[dst] = sext32(imm);
        break;
      case 0x55: // jne imm (64-bit compare, imm sign-extended)
        jump(reg(dst) !== sext32(imm));
        break;
      case 0x45: // jset imm
        jump((reg(dst) & sext32(imm) & MASK64) !== 0n);
        break;
      case 0x05: // ja
        jump(true);
        break;
      case 0x95: // exit
        return reg(0) !== 0n;
      default:
        throw new Error(`pc ${pc}: opcode 0x${code.toString(16)} not emulated`);
    }
  }
  throw new Error('fell off the end of the program');
}
