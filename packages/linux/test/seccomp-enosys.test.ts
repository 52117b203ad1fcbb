import { AUDIT_ARCH_X86_64, X32_SYSCALL_BIT, enosysStub } from '../src/seccomp-enosys';

const AUDIT_ARCH_I386 = 0x40000003;
const AUDIT_ARCH_AARCH64 = 0xc00000b7;
const ENOSYS_RET = 0x00050026;

/** Run classic BPF over seccomp_data {nr, arch}: the RET value, or 'filter' when it falls off the end. */
function run(prog: Buffer, nr: number, arch: number): number | 'filter' {
  const n = prog.length / 8;
  let pc = 0;
  let a = 0;
  while (pc < n) {
    const code = prog.readUInt16LE(pc * 8);
    const jt = prog.readUInt8(pc * 8 + 2);
    const jf = prog.readUInt8(pc * 8 + 3);
    const k = prog.readUInt32LE(pc * 8 + 4);
    pc++;
    switch (code) {
      case 0x20:
        a = k === 0 ? nr >>> 0 : arch >>> 0;
        break;
      case 0x05:
        pc += k;
        break;
      case 0x15:
        pc += a === k ? jt : jf;
        break;
      case 0x25:
        pc += a > k ? jt : jf;
        break;
      case 0x45:
        pc += (a & k) !== 0 ? jt : jf;
        break;
      case 0x06:
        return k;
      default:
        throw new Error(`unexpected opcode ${code}`);
    }
  }
  if (pc !== n) throw new Error('jumped past the end');
  return 'filter';
}

describe('the -ENOSYS stub in front of a seccomp filter', () => {
  const stub = enosysStub([
    { audit: AUDIT_ARCH_X86_64, max: 334, x32Max: X32_SYSCALL_BIT + 547 },
    { audit: AUDIT_ARCH_I386, max: 400 },
  ]);

  it('sends known syscall numbers on to the filter and newer ones to ENOSYS, per architecture', () => {
    expect(run(stub, 0, AUDIT_ARCH_X86_64)).toBe('filter');
    expect(run(stub, 334, AUDIT_ARCH_X86_64)).toBe('filter');
    expect(run(stub, 335, AUDIT_ARCH_X86_64)).toBe(ENOSYS_RET);
    expect(run(stub, 1000, AUDIT_ARCH_X86_64)).toBe(ENOSYS_RET);
    expect(run(stub, 400, AUDIT_ARCH_I386)).toBe('filter');
    expect(run(stub, 401, AUDIT_ARCH_I386)).toBe(ENOSYS_RET);
  });

  it('keeps x32 (bit 30) and native x86_64 limits apart', () => {
    expect(run(stub, X32_SYSCALL_BIT + 500, AUDIT_ARCH_X86_64)).toBe('filter');
    expect(run(stub, X32_SYSCALL_BIT + 548, AUDIT_ARCH_X86_64)).toBe(ENOSYS_RET);
    const nativeOnly = enosysStub([{ audit: AUDIT_ARCH_X86_64, max: 334 }]);
    expect(run(nativeOnly, X32_SYSCALL_BIT + 900, AUDIT_ARCH_X86_64)).toBe('filter');
    expect(run(nativeOnly, 900, AUDIT_ARCH_X86_64)).toBe(ENOSYS_RET);
  });

  it('leaves architectures the profile does not list to the filter', () => {
    expect(run(stub, 5000, AUDIT_ARCH_AARCH64)).toBe('filter');
    expect(run(enosysStub([]), 5000, AUDIT_ARCH_X86_64)).toBe('filter');
  });
});
