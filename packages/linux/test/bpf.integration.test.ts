/**
 * bpf(2) through LinuxSys on the real kernel (root, a cgroup2 mount: /sys/fs/cgroup on a v2 host,
 * /sys/fs/cgroup/unified on a hybrid one). Loading and attaching programs does not change this
 * process, so the calls run in the Jest worker; the test cgroup directory is removed at the end.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { BpfLoadError } from '../src/bpf';
import { BPF, O } from '../src/constants';
import { LinuxSys } from '../src/linux-sys';
import { cgroup2Mount, describeIf, needCgroup2, needRoot } from '@gantry/testkit';

const ALLOW = Buffer.from('b700000001000000' + '9500000000000000', 'hex'); // r0 = 1; exit
const NO_R0 = Buffer.from('9500000000000000', 'hex'); // exit with r0 unset: the verifier refuses it

const maybe = describeIf(needRoot(), needCgroup2());

maybe('bpf(2) on the real kernel', () => {
  const sys = new LinuxSys();
  const dir = `${cgroup2Mount()}/gantry-bpftest-${randomBytes(4).toString('hex')}`;
  const fds: number[] = [];
  const keep = (fd: number): number => {
    fds.push(fd);
    return fd;
  };

  beforeAll(() => fs.mkdirSync(dir));
  afterAll(() => {
    for (const fd of fds) sys.close(fd);
    fs.rmdirSync(dir); // frees whatever is still attached
  });

  it('loads a device program, and reports a refused one with the verifier log', () => {
    expect(keep(sys.bpfProgLoad({ type: BPF.PROG_TYPE_CGROUP_DEVICE, insns: ALLOW, license: 'Apache', name: 'gantry_test' }))).toBeGreaterThan(2);
    let err: unknown;
    try {
      keep(sys.bpfProgLoad({ type: BPF.PROG_TYPE_CGROUP_DEVICE, insns: NO_R0, license: 'Apache', name: 'gantry_bad' }));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BpfLoadError);
    expect(err).toMatchObject({ code: 'EACCES', log: expect.stringContaining('R0 !read_ok') });
    expect((err as Error).message).toMatch(/gantry_bad: EACCES .*verifier: .*R0 !read_ok/);
    expect(() => sys.bpfProgLoad({ type: BPF.PROG_TYPE_CGROUP_DEVICE, insns: Buffer.alloc(12), license: 'Apache' })).toThrow(/multiple of 8/);
  });

  it('attaches several programs to a cgroup, lists them and detaches each by id', () => {
    const dirFd = keep(sys.open(dir, O.RDONLY | O.DIRECTORY | O.CLOEXEC));
    expect(sys.bpfProgQuery(dirFd, BPF.CGROUP_DEVICE)).toEqual([]);
    for (let i = 0; i < 3; i++) {
      const prog = keep(sys.bpfProgLoad({ type: BPF.PROG_TYPE_CGROUP_DEVICE, insns: ALLOW, license: 'Apache', name: `gantry_t${i}` }));
      sys.bpfProgAttach(dirFd, prog, BPF.CGROUP_DEVICE, BPF.F_ALLOW_MULTI);
    }
    const ids = sys.bpfProgQuery(dirFd, BPF.CGROUP_DEVICE);
    expect(ids).toHaveLength(3);
    expect(new Set(ids).size).toBe(3);
    for (const id of ids) sys.bpfProgDetach(dirFd, keep(sys.bpfProgGetFdById(id)), BPF.CGROUP_DEVICE);
    expect(sys.bpfProgQuery(dirFd, BPF.CGROUP_DEVICE)).toEqual([]);
    expect(() => sys.bpfProgGetFdById(0x7ffffff0)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  });
});
