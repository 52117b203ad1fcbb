import { BPF_ATTR_SIZE, BPF_CMD, BpfLoadError, encodeAttachAttr, encodeGetFdByIdAttr, encodeProgLoadAttr, encodeQueryAttr } from '../src/bpf';
import { BPF, FakeSys, SysError } from '../src';

// Offsets from uapi linux/bpf.h, union bpf_attr.
describe('bpf_attr layouts', () => {
  it('uses the kernel command numbers', () => {
    expect(BPF_CMD).toEqual({ PROG_LOAD: 5, PROG_ATTACH: 8, PROG_DETACH: 9, PROG_GET_FD_BY_ID: 13, PROG_QUERY: 16 });
    expect(BPF.PROG_TYPE_CGROUP_DEVICE).toBe(15);
    expect(BPF.CGROUP_DEVICE).toBe(6);
    expect(BPF.F_ALLOW_MULTI).toBe(2);
  });

  it('BPF_PROG_LOAD: type, count, insns, license, log, name', () => {
    const a = encodeProgLoadAttr({
      type: 15,
      insnCount: 24,
      insns: 0x1122334455667788n,
      license: 0x99aabbccddeeff00n,
      logLevel: 1,
      logSize: 65536,
      logBuf: 0x0102030405060708n,
      name: 'gantry_devices',
    });
    expect(a.length).toBe(BPF_ATTR_SIZE);
    expect(a.readUInt32LE(0)).toBe(15);
    expect(a.readUInt32LE(4)).toBe(24);
    expect(a.readBigUInt64LE(8)).toBe(0x1122334455667788n);
    expect(a.readBigUInt64LE(16)).toBe(0x99aabbccddeeff00n);
    expect(a.readUInt32LE(24)).toBe(1);
    expect(a.readUInt32LE(28)).toBe(65536);
    expect(a.readBigUInt64LE(32)).toBe(0x0102030405060708n);
    expect(a.readUInt32LE(40)).toBe(0); // kern_version
    expect(a.readUInt32LE(44)).toBe(0); // prog_flags
    expect(a.subarray(48, 64).toString('latin1')).toBe('gantry_devices\0\0');
    expect(a.subarray(64).every((x) => x === 0)).toBe(true); // the kernel requires an unknown tail to be zero
    expect(() => encodeProgLoadAttr({ type: 15, insnCount: 1, insns: 0n, license: 0n, name: 'has space' })).toThrow(SysError);
    expect(() => encodeProgLoadAttr({ type: 15, insnCount: 1, insns: 0n, license: 0n, name: 'sixteen_chars_xx' })).toThrow(SysError);
  });

  it('BPF_PROG_ATTACH/DETACH, BPF_PROG_QUERY, BPF_PROG_GET_FD_BY_ID', () => {
    const at = encodeAttachAttr(7, 9, 6, 2);
    expect([0, 4, 8, 12, 16].map((o) => at.readUInt32LE(o))).toEqual([7, 9, 6, 2, 0]);
    const q = encodeQueryAttr(7, 6, 0xdeadbeef00n, 64);
    expect([0, 4, 8, 12].map((o) => q.readUInt32LE(o))).toEqual([7, 6, 0, 0]);
    expect(q.readBigUInt64LE(16)).toBe(0xdeadbeef00n);
    expect(q.readUInt32LE(24)).toBe(64);
    const g = encodeGetFdByIdAttr(42);
    expect(g.readUInt32LE(0)).toBe(42);
    expect(g.subarray(4).every((x) => x === 0)).toBe(true);
  });

  it('BpfLoadError carries errno and the end of the verifier log', () => {
    const e = new BpfLoadError(13, 'line 0\nline 1\n0: (95) exit\nR0 !read_ok\nprocessed 1 insns (limit 1000000)\n', 'gantry_devices');
    expect(e).toBeInstanceOf(SysError);
    expect(e.code).toBe('EACCES');
    expect(e.message).toMatch(/^bpf\(BPF_PROG_LOAD\) gantry_devices: EACCES/);
    expect(e.message).toBe('bpf(BPF_PROG_LOAD) gantry_devices: EACCES (permission denied) (verifier: line 1 | 0: (95) exit | R0 !read_ok)');
    expect(e.log).toContain('R0 !read_ok');
  });
});

describe('FakeSys bpf model', () => {
  it('keeps attachments per opened path and follows attach/query/detach', () => {
    const sys = new FakeSys();
    const dir = sys.open('/cg/a', 0);
    const prog = sys.bpfProgLoad({ type: 15, insns: Buffer.alloc(16), license: 'Apache', name: 'p' });
    sys.bpfProgAttach(dir, prog, BPF.CGROUP_DEVICE, BPF.F_ALLOW_MULTI);
    expect(() => sys.bpfProgAttach(dir, prog, BPF.CGROUP_DEVICE, BPF.F_ALLOW_MULTI)).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    sys.close(prog);
    sys.close(dir);
    const again = sys.open('/cg/a', 0);
    const ids = sys.bpfProgQuery(again, BPF.CGROUP_DEVICE);
    expect(ids).toHaveLength(1);
    expect(sys.bpfAttachedAt('/cg/a', BPF.CGROUP_DEVICE)[0]).toMatchObject({ id: ids[0], license: 'Apache', name: 'p' });
    expect(sys.bpfProgQuery(sys.open('/cg/b', 0), BPF.CGROUP_DEVICE)).toEqual([]);
    const fd = sys.bpfProgGetFdById(ids[0]!);
    sys.bpfProgDetach(again, fd, BPF.CGROUP_DEVICE);
    expect(sys.bpfProgQuery(again, BPF.CGROUP_DEVICE)).toEqual([]);
    expect(() => sys.bpfProgDetach(again, fd, BPF.CGROUP_DEVICE)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(() => sys.bpfProgGetFdById(12345)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    sys.close(fd);
    expect(sys.openBpfFds()).toEqual([]);
  });
});
