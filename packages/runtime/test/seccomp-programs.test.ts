import { FakeSys, type SeccompFilter } from '@gantry/linux';
import { SeccompPrograms } from '../src/container/seccomp-programs';

const filter = (value: bigint): SeccompFilter => ({
  defaultAction: 'SCMP_ACT_ERRNO',
  architectures: ['SCMP_ARCH_X86_64'],
  flags: [],
  rules: [{ names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value, valueTwo: 0n, op: 'SCMP_CMP_EQ' }] }],
});

describe('exec seccomp programs', () => {
  it('compiles each filter once, and tells filters apart by every value, bigints included', () => {
    const sys = new FakeSys();
    const programs = new SeccompPrograms(sys);
    const a = programs.compiled(filter(8n));
    expect(programs.compiled(filter(8n))).toBe(a);
    const b = programs.compiled(filter(0x20008n));
    expect(b).not.toEqual(a);
    expect(sys.callsOf('seccompCompile')).toEqual([[filter(8n)], [filter(0x20008n)]]);
  });

  it('keeps a bounded number of programs, dropping the oldest', () => {
    const sys = new FakeSys();
    const programs = new SeccompPrograms(sys);
    for (let i = 0; i < 9; i++) programs.compiled(filter(BigInt(i)));
    programs.compiled(filter(8n)); // kept
    programs.compiled(filter(0n)); // dropped: compiled again
    expect(sys.callsOf('seccompCompile')).toHaveLength(10);
  });
});
