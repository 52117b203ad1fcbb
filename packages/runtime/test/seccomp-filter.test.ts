import { ConfigError } from '../src/errors';
import { SeccompConfigError, toSeccompFilter, usesSeccompAgent } from '../src/init/seccomp-filter';
import type { Seccomp } from '../src/spec/types';

/** Cast for deliberately malformed input, as it could come out of JSON.parse. */
const raw = (v: unknown): Seccomp => v as Seccomp;

function errorOf(spec: Seccomp): SeccompConfigError {
  try {
    toSeccompFilter(spec);
  } catch (err) {
    if (err instanceof SeccompConfigError) return err;
    throw err;
  }
  throw new Error('expected a SeccompConfigError');
}

describe('toSeccompFilter', () => {
  it('converts a full profile, numbers to bigint and defaults filled in', () => {
    const filter = toSeccompFilter({
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 38,
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'],
      flags: ['SECCOMP_FILTER_FLAG_SPEC_ALLOW'],
      syscalls: [
        { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' },
        { names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 },
        {
          names: ['personality'],
          action: 'SCMP_ACT_ALLOW',
          args: [{ index: 0, value: 0xffffffff, op: 'SCMP_CMP_EQ' }],
        },
        {
          names: ['clone'],
          action: 'SCMP_ACT_ALLOW',
          args: [{ index: 0, value: 2114060288, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
        },
      ],
    });
    expect(filter).toEqual({
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 38,
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'],
      flags: ['SECCOMP_FILTER_FLAG_SPEC_ALLOW'],
      rules: [
        { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW', errnoRet: undefined, args: [] },
        { names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 13, args: [] },
        {
          names: ['personality'],
          action: 'SCMP_ACT_ALLOW',
          errnoRet: undefined,
          args: [{ index: 0, value: 0xffffffffn, valueTwo: 0n, op: 'SCMP_CMP_EQ' }],
        },
        {
          names: ['clone'],
          action: 'SCMP_ACT_ALLOW',
          errnoRet: undefined,
          args: [{ index: 0, value: 2114060288n, valueTwo: 0n, op: 'SCMP_CMP_MASKED_EQ' }],
        },
      ],
    });
  });

  it('defaults architectures, flags and syscalls to empty lists', () => {
    expect(toSeccompFilter({ defaultAction: 'SCMP_ACT_ALLOW' })).toEqual({
      defaultAction: 'SCMP_ACT_ALLOW',
      defaultErrnoRet: undefined,
      architectures: [],
      flags: [],
      rules: [],
    });
  });

  it('accepts every action but NOTIFY as default, and every operator', () => {
    for (const act of [
      'SCMP_ACT_KILL',
      'SCMP_ACT_KILL_PROCESS',
      'SCMP_ACT_KILL_THREAD',
      'SCMP_ACT_TRAP',
      'SCMP_ACT_ERRNO',
      'SCMP_ACT_TRACE',
      'SCMP_ACT_ALLOW',
      'SCMP_ACT_LOG',
    ]) {
      expect(toSeccompFilter({ defaultAction: act }).defaultAction).toBe(act);
    }
    for (const op of ['SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ']) {
      const f = toSeccompFilter({
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['kill'], action: 'SCMP_ACT_ERRNO', args: [{ index: 1, value: 9, op }] }],
      });
      expect(f.rules[0]!.args[0]!.op).toBe(op);
    }
  });

  it('maps the double JSON gives for 2^64-1 back to the all-ones value', () => {
    const f = toSeccompFilter({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [
        // JSON.parse('18446744073709551615') === 2 ** 64
        {
          names: ['ioctl'],
          action: 'SCMP_ACT_ERRNO',
          args: [{ index: 1, value: JSON.parse('18446744073709551615') as number, valueTwo: 2 ** 53, op: 'SCMP_CMP_MASKED_EQ' }],
        },
      ],
    });
    expect(f.rules[0]!.args[0]!.value).toBe(0xffffffffffffffffn);
    expect(f.rules[0]!.args[0]!.valueTwo).toBe(2n ** 53n);
  });

  it('rejects an unknown default action with a typed error naming it', () => {
    const err = errorOf({ defaultAction: 'SCMP_ACT_EXPLODE' });
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.name).toBe('SeccompConfigError');
    expect(err.message).toMatch(/linux\.seccomp\.defaultAction: unknown action "SCMP_ACT_EXPLODE"/);
  });

  it('rejects a missing default action', () => {
    expect(errorOf(raw({ syscalls: [] })).message).toMatch(/defaultAction: unknown action undefined/);
  });

  it('rejects an unknown rule action with its position', () => {
    const err = errorOf({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [
        { names: ['read'], action: 'SCMP_ACT_ALLOW' },
        { names: ['mkdir'], action: 'SCMP_ACT_DENY' },
      ],
    });
    expect(err.message).toMatch(/linux\.seccomp\.syscalls\[1\]\.action: unknown action "SCMP_ACT_DENY"/);
  });

  it("takes SCMP_ACT_NOTIFY for rules with a listener path, with runc's limits", () => {
    const notify = (names: string[], listenerPath?: string) => ({
      defaultAction: 'SCMP_ACT_ALLOW',
      listenerPath,
      syscalls: [{ names, action: 'SCMP_ACT_NOTIFY' }],
    });
    const f = toSeccompFilter(notify(['mkdir'], '/run/agent.sock'));
    expect(f.rules[0]!.action).toBe('SCMP_ACT_NOTIFY');
    expect(usesSeccompAgent(f)).toBe(true);
    expect(usesSeccompAgent(toSeccompFilter({ defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/run/agent.sock' }))).toBe(false);
    expect(errorOf({ defaultAction: 'SCMP_ACT_NOTIFY' }).message).toMatch(/SCMP_ACT_NOTIFY cannot be used as default action/);
    expect(errorOf(notify(['mkdir'])).message).toMatch(/listenerPath: SCMP_ACT_NOTIFY needs a listenerPath/);
    expect(errorOf(notify(['mkdir'], '')).message).toMatch(/needs a listenerPath/);
    expect(errorOf(notify(['read', 'write'], '/run/agent.sock')).message).toMatch(/SCMP_ACT_NOTIFY cannot be used for the write syscall/);
  });

  it('rejects an unknown operator', () => {
    const err = errorOf({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['kill'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 1, op: 'SCMP_CMP_ROUGHLY' }] }],
    });
    expect(err.message).toMatch(/syscalls\[0\]\.args\[0\]\.op: unknown operator "SCMP_CMP_ROUGHLY"/);
  });

  it('accepts errnoRet only with SCMP_ACT_ERRNO and SCMP_ACT_TRACE', () => {
    expect(toSeccompFilter({ defaultAction: 'SCMP_ACT_TRACE', defaultErrnoRet: 5 }).defaultErrnoRet).toBe(5);
    expect(errorOf({ defaultAction: 'SCMP_ACT_ALLOW', defaultErrnoRet: 1 }).message).toMatch(
      /defaultErrnoRet: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take an errno, not SCMP_ACT_ALLOW/,
    );
    expect(errorOf({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_KILL', errnoRet: 1 }] }).message).toMatch(
      /syscalls\[0\]\.errnoRet: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE/,
    );
  });

  it('rejects an errnoRet that is not a 16-bit unsigned integer', () => {
    for (const bad of [-1, 1.5, 0x10000, '1']) {
      expect(errorOf(raw({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: bad }] })).message).toMatch(
        /errnoRet: .* is not an errno/,
      );
    }
  });

  it('rejects argument indexes outside 0..5', () => {
    for (const index of [-1, 6, 1.5]) {
      const err = errorOf({
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['kill'], action: 'SCMP_ACT_ERRNO', args: [{ index, value: 0, op: 'SCMP_CMP_EQ' }] }],
      });
      expect(err.message).toMatch(/args\[0\]\.index: .* is not a syscall argument index \(0\.\.5\)/);
    }
    expect(
      toSeccompFilter({
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['mmap'], action: 'SCMP_ACT_ERRNO', args: [{ index: 5, value: 0, op: 'SCMP_CMP_EQ' }] }],
      }).rules[0]!.args[0]!.index,
    ).toBe(5);
  });

  it('rejects negative, fractional and oversized argument values', () => {
    for (const value of [-1, 0.5, 2 ** 65]) {
      const err = errorOf({
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['kill'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value, op: 'SCMP_CMP_EQ' }] }],
      });
      expect(err.message).toMatch(/args\[0\]\.value: /);
    }
  });

  it('rejects empty or malformed syscall names', () => {
    expect(errorOf({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: [], action: 'SCMP_ACT_ERRNO' }] }).message).toMatch(
      /syscalls\[0\]\.names: must list at least one syscall/,
    );
    expect(errorOf({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read', ''], action: 'SCMP_ACT_ERRNO' }] }).message).toMatch(
      /syscalls\[0\]\.names\[1\]: must be a non-empty syscall name/,
    );
  });

  it('passes unknown syscall names and SCMP_ARCH_* names through for the loader to skip', () => {
    const f = toSeccompFilter({
      defaultAction: 'SCMP_ACT_ALLOW',
      architectures: ['SCMP_ARCH_LOONGARCH64'],
      syscalls: [{ names: ['no_such_syscall'], action: 'SCMP_ACT_ERRNO' }],
    });
    expect(f.architectures).toEqual(['SCMP_ARCH_LOONGARCH64']);
    expect(f.rules[0]!.names).toEqual(['no_such_syscall']);
  });

  it('rejects architecture names that are not SCMP_ARCH_* and unknown flags', () => {
    expect(errorOf({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['amd64'] }).message).toMatch(/architectures\[0\]: "amd64" is not an SCMP_ARCH_\* name/);
    expect(errorOf({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_FAST'] }).message).toMatch(
      /flags\[0\]: unknown flag "SECCOMP_FILTER_FLAG_FAST"/,
    );
    expect(toSeccompFilter({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG'] }).flags).toEqual([
      'SECCOMP_FILTER_FLAG_TSYNC',
      'SECCOMP_FILTER_FLAG_LOG',
    ]);
  });
});
