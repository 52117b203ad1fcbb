import { BpfAssembler, encodeInsn, R0, R1, R2, R3, R5 } from '../src/cgroups/bpf-asm';

const hex = (b: Buffer): string[] => Array.from({ length: b.length / 8 }, (_, i) => b.subarray(i * 8, i * 8 + 8).toString('hex'));

describe('eBPF instruction encoding', () => {
  // Expected bytes written out from uapi linux/bpf.h: code, src<<4|dst, off (s16 LE), imm (s32 LE).
  it('encodes each instruction the device filter uses', () => {
    const a = new BpfAssembler()
      .loadWord(R2, R1, 0) // BPF_LDX|BPF_W|BPF_MEM = 0x61
      .loadWord(R5, R1, 8)
      .and32(R2, 0xffff) // BPF_ALU|BPF_AND|BPF_K = 0x54
      .rsh32(R3, 16) // BPF_ALU|BPF_RSH|BPF_K = 0x74
      .mov64Imm(R0, 1) // BPF_ALU64|BPF_MOV|BPF_K = 0xb7
      .mov64Imm(R0, -1)
      .exit(); // BPF_JMP|BPF_EXIT = 0x95
    expect(hex(a.assemble())).toEqual([
      '6112000000000000',
      '6115080000000000',
      '54020000ffff0000',
      '7403000010000000',
      'b700000001000000',
      'b7000000ffffffff',
      '9500000000000000',
    ]);
  });

  it('resolves forward jumps relative to the next instruction', () => {
    const a = new BpfAssembler()
      .jneImm(R2, 2, 'out') // BPF_JMP|BPF_JNE|BPF_K = 0x55
      .jsetImm(R3, -8, 'out') // BPF_JMP|BPF_JSET|BPF_K = 0x45, imm ~7
      .ja('end') // BPF_JMP|BPF_JA = 0x05
      .label('out')
      .mov64Imm(R0, 0)
      .label('end')
      .exit();
    expect(hex(a.assemble())).toEqual([
      '5502020002000000', // off 2: skips the jset and the ja
      '45030100f8ffffff', // off 1
      '0500010000000000', // off 1
      'b700000000000000',
      '9500000000000000',
    ]);
    expect(a.length).toBe(5);
  });

  it('a jump to the very next instruction has offset 0', () => {
    const a = new BpfAssembler().ja('next').label('next').exit();
    expect(hex(a.assemble())).toEqual(['0500000000000000', '9500000000000000']);
  });

  it('refuses what the kernel would reject or misread', () => {
    expect(() => new BpfAssembler().ja('nowhere').exit().assemble()).toThrow(/undefined label nowhere/);
    expect(() => new BpfAssembler().label('top').mov64Imm(R0, 0).ja('top').assemble()).toThrow(/backwards/);
    expect(() => new BpfAssembler().ja('end').label('end').assemble()).toThrow(/past the last instruction/);
    expect(() => new BpfAssembler().label('x').label('x')).toThrow(/defined twice/);
    expect(() => new BpfAssembler().mov64Imm(R0, 0x80000000).assemble()).toThrow(RangeError);
    expect(() => encodeInsn({ code: 0x05, dst: R0, src: R0, off: 0x8000, imm: 0 })).toThrow(/16 bits/);
  });
});
