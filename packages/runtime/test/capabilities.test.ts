import { CAPABILITIES, FakeSys, PR, SysError } from '@gantry/linux';
import { InitError } from '../src/errors';
import { applyCapabilities, capabilityWarnings, refusedAmbient } from '../src/init/finalize';
import { defaultSpec } from '../src/spec/default-spec';
import type { Capabilities } from '../src/spec/types';

const bit = (name: string) => 1n << BigInt(CAPABILITIES[name]!);
const raised = (sys: FakeSys) =>
  sys
    .callsOf('prctl')
    .filter((a) => a[0] === PR.CAP_AMBIENT && a[1] === PR.CAP_AMBIENT_RAISE)
    .map((a) => a[2]);

/** A kernel that refuses one ambient capability whatever the sets say (SECBIT_NO_CAP_AMBIENT_RAISE-like). */
class RefusingSys extends FakeSys {
  constructor(
    private readonly refused: number,
    private readonly errno: number,
  ) {
    super();
  }
  override prctl(option: number, a2 = 0, a3 = 0, a4 = 0, a5 = 0): number {
    if (option === PR.CAP_AMBIENT && a2 === PR.CAP_AMBIENT_RAISE && a3 === this.refused) throw new SysError('prctl', this.errno, String(option));
    return super.prctl(option, a2, a3, a4, a5);
  }
}

describe('ambient capabilities', () => {
  const specCaps = (): Capabilities => defaultSpec().process!.capabilities!;

  it('skips ambient capabilities that are not inheritable, as `runc spec` output asks for', () => {
    const caps = specCaps();
    expect(caps.inheritable).toBeUndefined();
    const sys = new FakeSys();
    const skipped = applyCapabilities(sys, caps, 40);
    expect(skipped).toEqual(['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE']);
    expect(raised(sys)).toEqual([]);
    // the other sets are still applied, and the ambient set is cleared first
    expect(sys.caps.permitted).toBe(bit('CAP_AUDIT_WRITE') | bit('CAP_KILL') | bit('CAP_NET_BIND_SERVICE'));
    expect(sys.callsOf('prctl')).toContainEqual([PR.CAP_AMBIENT, PR.CAP_AMBIENT_CLEAR_ALL, 0, 0, 0]);
  });

  it('raises the ones that are both permitted and inheritable', () => {
    const caps: Capabilities = { ...specCaps(), inheritable: ['CAP_KILL', 'CAP_NET_BIND_SERVICE'] };
    const sys = new FakeSys();
    expect(applyCapabilities(sys, caps, 40)).toEqual(['CAP_AUDIT_WRITE']);
    expect(raised(sys)).toEqual([CAPABILITIES.CAP_KILL, CAPABILITIES.CAP_NET_BIND_SERVICE]);
  });

  it('skips one the kernel refuses with EPERM or EINVAL, and fails on any other error', () => {
    const caps: Capabilities = { ...specCaps(), inheritable: specCaps().permitted };
    for (const errno of [1, 22]) {
      const sys = new RefusingSys(CAPABILITIES.CAP_KILL!, errno);
      expect(applyCapabilities(sys, caps, 40)).toEqual(['CAP_KILL']);
      expect(raised(sys)).toEqual([CAPABILITIES.CAP_AUDIT_WRITE, CAPABILITIES.CAP_NET_BIND_SERVICE]);
    }
    expect(() => applyCapabilities(new RefusingSys(CAPABILITIES.CAP_KILL!, 14), caps, 40)).toThrow(/EFAULT/);
  });

  it("a capset the kernel refuses fails in runc's words, the cause kept (unable to apply caps: operation not permitted)", () => {
    const sys = new FakeSys();
    sys.failOn('capset', 1 /* EPERM */);
    let err: unknown;
    try {
      applyCapabilities(sys, specCaps(), 40);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InitError);
    expect((err as Error).message).toBe('unable to apply caps: operation not permitted');
  });

  it('leaves out capabilities this kernel does not have (above cap_last_cap)', () => {
    const caps: Capabilities = { bounding: ['CAP_KILL', 'CAP_CHECKPOINT_RESTORE'], permitted: ['CAP_KILL', 'CAP_CHECKPOINT_RESTORE'], effective: ['CAP_KILL'] };
    const sys = new FakeSys();
    applyCapabilities(sys, caps, 39);
    expect(sys.caps.permitted).toBe(bit('CAP_KILL'));
    expect(capabilityWarnings(caps, 39)).toEqual(['ignoring unknown or unavailable capabilities: [CAP_CHECKPOINT_RESTORE]']);
    expect(capabilityWarnings(caps, 40)).toEqual([]);
  });

  it('warns about every ambient capability it will not raise', () => {
    expect(refusedAmbient(specCaps())).toEqual(['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE']);
    const warnings = capabilityWarnings(specCaps(), 40);
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toMatch(/^can't raise ambient capability CAP_AUDIT_WRITE: /);
    expect(capabilityWarnings({ ...specCaps(), inheritable: specCaps().permitted }, 40)).toEqual([]);
    expect(capabilityWarnings(undefined, 40)).toEqual([]);
  });
});
