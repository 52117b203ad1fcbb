import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FakeSys, type CompiledSeccomp, type SeccompFilter } from '@gantry/linux';
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

/** FakeSys's program padded to whole BPF instructions (8 bytes), as a real one is. */
class ProgramSys extends FakeSys {
  override seccompCompile(f: SeccompFilter): CompiledSeccomp | undefined {
    const p = super.seccompCompile(f)!;
    const b = Buffer.from(p.program, 'base64');
    return { ...p, program: Buffer.concat([b, Buffer.alloc((8 - (b.length % 8)) % 8, 32)]).toString('base64') };
  }
}

describe('seccomp programs kept on disk for the next process', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gseccache-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const onX64 = process.arch === 'x64' ? it : it.skip;

  onX64('a second process with the same libseccomp loads the program the first compiled', () => {
    const first = new ProgramSys();
    const a = new SeccompPrograms(first, { cacheDir: dir, fingerprint: () => 'lib-1' }).compiled(filter(8n));
    expect(first.callsOf('seccompCompile')).toHaveLength(1);
    const second = new ProgramSys();
    expect(new SeccompPrograms(second, { cacheDir: dir, fingerprint: () => 'lib-1' }).compiled(filter(8n))).toEqual(a);
    expect(second.callsOf('seccompCompile')).toEqual([]);
    // root's only
    const [file] = fs.readdirSync(dir);
    expect(fs.statSync(path.join(dir, file!)).mode & 0o777).toBe(0o600);
  });

  onX64('compiles again for another filter, another libseccomp, or a damaged file', () => {
    new SeccompPrograms(new ProgramSys(), { cacheDir: dir, fingerprint: () => 'lib-1' }).compiled(filter(8n));
    const other = new ProgramSys();
    new SeccompPrograms(other, { cacheDir: dir, fingerprint: () => 'lib-1' }).compiled(filter(9n));
    expect(other.callsOf('seccompCompile')).toHaveLength(1);
    const upgraded = new ProgramSys();
    new SeccompPrograms(upgraded, { cacheDir: dir, fingerprint: () => 'lib-2' }).compiled(filter(8n));
    expect(upgraded.callsOf('seccompCompile')).toHaveLength(1);
    for (const f of fs.readdirSync(dir)) fs.writeFileSync(path.join(dir, f), '{"program":"AAA=","flags":0,"notify":false}');
    const damaged = new ProgramSys();
    const p = new SeccompPrograms(damaged, { cacheDir: dir, fingerprint: () => 'lib-1' }).compiled(filter(8n));
    expect(damaged.callsOf('seccompCompile')).toHaveLength(1);
    expect(p!.program).not.toBe('AAA=');
  });
});
