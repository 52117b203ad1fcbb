import { FakeSys } from '@gantry/linux';
import { secureJoin } from '../src/init/secure-join';

describe('secureJoin', () => {
  const sys = new FakeSys();
  sys.addDir('/rootfs/etc');
  sys.addDir('/rootfs/data');
  sys.symlink('/etc', '/rootfs/abs-link');
  sys.symlink('../../../../host', '/rootfs/escape');
  sys.symlink('data', '/rootfs/rel-link');
  sys.symlink('/', '/rootfs/to-root');

  it('joins plain paths', () => {
    expect(secureJoin(sys, '/rootfs', '/data/x')).toBe('/rootfs/data/x');
  });
  it('keeps ".." inside the root', () => {
    expect(secureJoin(sys, '/rootfs', '/../../etc/passwd')).toBe('/rootfs/etc/passwd');
  });
  it('resolves absolute symlinks against the root, not the host', () => {
    expect(secureJoin(sys, '/rootfs', '/abs-link/hosts')).toBe('/rootfs/etc/hosts');
    expect(secureJoin(sys, '/rootfs', '/to-root/etc')).toBe('/rootfs/etc');
  });
  it('confines symlinks that climb out', () => {
    expect(secureJoin(sys, '/rootfs', '/escape/file')).toBe('/rootfs/host/file');
  });
  it('follows relative symlinks', () => {
    expect(secureJoin(sys, '/rootfs', '/rel-link/y')).toBe('/rootfs/data/y');
  });
  it('stops symlink loops', () => {
    const s = new FakeSys();
    s.addDir('/r');
    s.symlink('/b', '/r/a');
    s.symlink('/a', '/r/b');
    expect(() => secureJoin(s, '/r', '/a/x')).toThrow(/too many symlinks/);
  });
});
