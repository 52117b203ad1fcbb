import { buildDeviceFilter, CgroupError } from '../src/cgroups';
import { defaultDeviceRules } from '../src/spec/default-spec';
import type { DeviceCgroupRule } from '../src/spec/types';
import { runDeviceFilter, type DeviceRequest } from './bpf-interpreter';

const allows = (rules: DeviceCgroupRule[], req: DeviceRequest): boolean => runDeviceFilter(buildDeviceFilter(rules), req);
const c = (major: number, minor: number, access: string | number): DeviceRequest => ({ type: 'c', major, minor, access });
const b = (major: number, minor: number, access: string | number): DeviceRequest => ({ type: 'b', major, minor, access });
const denyAll: DeviceCgroupRule = { allow: false, access: 'rwm' };

describe('device filter program', () => {
  it('is exactly these instructions for one rule', () => {
    const prog = buildDeviceFilter([{ allow: true, type: 'c', major: 1, minor: 3, access: 'r' }]);
    const rows = Array.from({ length: prog.length / 8 }, (_, i) => prog.subarray(i * 8, i * 8 + 8).toString('hex'));
    expect(rows).toEqual([
      '6112000000000000', //  0 r2 = ctx->access_type
      '54020000ffff0000', //  1 r2 &= 0xffff              (device type)
      '6113000000000000', //  2 r3 = ctx->access_type
      '7403000010000000', //  3 r3 >>= 16                 (access bits)
      '6114040000000000', //  4 r4 = ctx->major
      '6115080000000000', //  5 r5 = ctx->minor
      '45030f00f8ffffff', //  6 if r3 & ~7 goto deny (22)
      '4503010002000000', //  7 if r3 & READ goto 9
      '0500050000000000', //  8 goto read ok (14)
      '5502030002000000', //  9 if r2 != CHAR goto 13
      '5504020001000000', // 10 if r4 != 1 goto 13
      '5505010003000000', // 11 if r5 != 3 goto 13
      '0500010000000000', // 12 goto read ok (14)
      '0500080000000000', // 13 goto deny (22): no rule allows reading
      '4503010004000000', // 14 if r3 & WRITE goto 16
      '0500010000000000', // 15 goto write ok (17)
      '0500050000000000', // 16 goto deny: no rule names w
      '4503010001000000', // 17 if r3 & MKNOD goto 19
      '0500010000000000', // 18 goto mknod ok (20)
      '0500020000000000', // 19 goto deny
      'b700000001000000', // 20 r0 = 1
      '9500000000000000', // 21 return (allow)
      'b700000000000000', // 22 r0 = 0
      '9500000000000000', // 23 return (deny)
    ]);
  });

  it('denies everything when there is no rule', () => {
    for (const req of [c(1, 3, 'r'), c(1, 3, 'm'), b(8, 0, 'w')]) expect(allows([], req)).toBe(false);
  });

  it("with the runtime's default rules: the usual /dev nodes, ptys and mknod only", () => {
    const rules = [denyAll, ...defaultDeviceRules()];
    expect(allows(rules, c(1, 3, 'rw'))).toBe(true); // /dev/null
    expect(allows(rules, c(1, 9, 'r'))).toBe(true); // /dev/urandom
    expect(allows(rules, c(5, 2, 'rw'))).toBe(true); // /dev/ptmx
    expect(allows(rules, c(136, 7, 'rw'))).toBe(true); // /dev/pts/7
    expect(allows(rules, c(4, 1, 'm'))).toBe(true); // mknod of any char device
    expect(allows(rules, b(254, 0, 'm'))).toBe(true); // mknod of any block device...
    expect(allows(rules, b(254, 0, 'r'))).toBe(false); // ...but not opening it
    expect(allows(rules, b(7, 0, 'rw'))).toBe(false);
    expect(allows(rules, c(1, 1, 'r'))).toBe(false); // /dev/mem
    expect(allows(rules, c(4, 1, 'rw'))).toBe(false); // a tty
    expect(allows(rules, c(10, 200, 'rw'))).toBe(false); // /dev/net/tun
  });

  it('decides each access bit by the last rule naming it (v1 merges allows the same way)', () => {
    const split = [denyAll, { allow: true, type: 'c', major: 1, minor: 3, access: 'r' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'w' }];
    expect(allows(split, c(1, 3, 'rw'))).toBe(true);
    expect(allows(split, c(1, 3, 'rwm'))).toBe(false);
    const narrowed = [denyAll, { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }, { allow: false, type: 'c', major: 1, minor: 3, access: 'w' }];
    expect(allows(narrowed, c(1, 3, 'r'))).toBe(true);
    expect(allows(narrowed, c(1, 3, 'm'))).toBe(true);
    expect(allows(narrowed, c(1, 3, 'w'))).toBe(false);
    expect(allows(narrowed, c(1, 3, 'rw'))).toBe(false); // a deny of any requested bit refuses the request
  });

  it('later rules win: an allow after a deny and a deny after an allow', () => {
    expect(allows([denyAll, { allow: true, type: 'c', major: 1, minor: 3 }], c(1, 3, 'rwm'))).toBe(true);
    expect(allows([{ allow: true, type: 'c', major: 1, minor: 3 }, denyAll], c(1, 3, 'r'))).toBe(false);
    // A narrow deny punches a hole in an earlier wildcard allow.
    const hole = [denyAll, { allow: true, type: 'c', major: 1, minor: null }, { allow: false, type: 'c', major: 1, minor: 3 }];
    expect(allows(hole, c(1, 3, 'r'))).toBe(false);
    expect(allows(hole, c(1, 5, 'r'))).toBe(true);
    expect(allows(hole, c(2, 3, 'r'))).toBe(false);
  });

  it('treats type a as block and char, and null/-1/absent numbers as any', () => {
    const rules = [denyAll, { allow: true, type: 'a', major: 7, minor: -1, access: 'r' }];
    expect(allows(rules, b(7, 0, 'r'))).toBe(true);
    expect(allows(rules, c(7, 130, 'r'))).toBe(true);
    expect(allows(rules, b(8, 0, 'r'))).toBe(false);
    expect(allows(rules, b(7, 0, 'w'))).toBe(false);
    expect(allows([denyAll, { allow: true, type: 'b', minor: 0, access: 'r' }], b(259, 0, 'r'))).toBe(true);
    expect(allows([denyAll, { allow: true, type: 'b', minor: 0, access: 'r' }], c(259, 0, 'r'))).toBe(false);
  });

  it('an allow-all list allows everything but access bits it does not know', () => {
    const all = [{ allow: true, access: 'rwm' }];
    expect(allows(all, b(254, 0, 'rwm'))).toBe(true);
    expect(allows(all, c(1, 1, 'rw'))).toBe(true);
    expect(allows(all, c(1, 3, 8))).toBe(false);
    expect(allows(all, c(1, 3, 2 | 8))).toBe(false);
    // Rules before an unconditional one are unreachable and not emitted.
    expect(buildDeviceFilter([{ allow: false, type: 'c', major: 1, minor: 3 }, ...all]).length).toBe(buildDeviceFilter(all).length);
  });

  it('refuses invalid rules before building anything', () => {
    expect(() => buildDeviceFilter([{ allow: true, type: 'x' }])).toThrow(CgroupError);
    // like runc, letters other than r, w and m are dropped; a rule left with none is refused
    expect(() => buildDeviceFilter([{ allow: true, type: 'c', access: 'x' }])).toThrow(/invalid device access/);
    expect(() => buildDeviceFilter([{ allow: true, type: 'c', access: '' }])).toThrow(/invalid device access/);
    expect(() => buildDeviceFilter([{ allow: true, type: 'c', major: -2 }])).toThrow(/invalid device number/);
    expect(() => buildDeviceFilter([{ allow: true, type: 'c', major: 0x80000000 }])).toThrow(/invalid device number/);
    expect(() => buildDeviceFilter([{ allow: true, type: 'c', minor: 1.5 }])).toThrow(/invalid device number/);
  });
});
