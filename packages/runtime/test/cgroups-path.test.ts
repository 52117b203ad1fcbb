import { CgroupError, CgroupPathError, expandSlice, isSystemdPath, resolveCgroupPath } from '../src/cgroups';

describe('resolveCgroupPath', () => {
  it('defaults to /gantry/<id>', () => {
    expect(resolveCgroupPath(undefined, 'abc')).toBe('/gantry/abc');
    expect(resolveCgroupPath('', 'abc')).toBe('/gantry/abc');
  });

  it('keeps absolute paths and normalizes them', () => {
    expect(resolveCgroupPath('/default/abc', 'x')).toBe('/default/abc');
    expect(resolveCgroupPath('//a///b/./c/', 'x')).toBe('/a/b/c');
    expect(resolveCgroupPath('/a/b/../c', 'x')).toBe('/a/c');
  });

  it('takes relative paths from the hierarchy root', () => {
    expect(resolveCgroupPath('docker/abc', 'x')).toBe('/docker/abc');
  });

  it('maps the systemd form onto cgroupfs', () => {
    expect(resolveCgroupPath('system.slice:docker:abc', 'x')).toBe('/system.slice/docker-abc.scope');
    expect(resolveCgroupPath('kubepods-burstable-pod1.slice:cri-containerd:abc', 'x')).toBe(
      '/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/cri-containerd-abc.scope',
    );
    expect(resolveCgroupPath(':docker:abc', 'x')).toBe('/system.slice/docker-abc.scope'); // runc's default slice
    expect(resolveCgroupPath('-.slice:docker:abc', 'x')).toBe('/docker-abc.scope');
    expect(resolveCgroupPath('user.slice::my-app.slice', 'x')).toBe('/my.slice/my-app.slice'); // a slice unit
    expect(isSystemdPath('/a:b:c')).toBe(false);
  });

  it('expands slices like systemd', () => {
    expect(expandSlice('a-b-c.slice')).toBe('/a.slice/a-b.slice/a-b-c.slice');
    expect(expandSlice('-.slice')).toBe('/');
    for (const bad of ['.slice', 'a', 'a--b.slice', '-a.slice', 'a-.slice', 'a/b.slice']) {
      expect(() => expandSlice(bad)).toThrow(CgroupPathError);
    }
  });

  it.each([
    ['/..', 'escapes'],
    ['/a/../../etc', 'escapes'],
    ['../../sys', 'escapes'],
    ['a/../..', 'escapes'],
    ['/', 'root'],
    ['/a/..', 'root'],
    ['.', 'root'],
    ['/a\0b', 'NUL'],
    ['system.slice:docker:..', 'unit name'],
    ['system.slice:do/cker:abc', 'prefix'],
    ['system.slice:docker:a/b', 'unit name'],
    ['../x.slice:docker:abc', 'slice'],
    ['bad:docker:abc', 'slice'],
  ])('rejects hostile path %j', (p, why) => {
    let caught: unknown;
    try {
      resolveCgroupPath(p, 'x');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(CgroupPathError);
    expect(caught).toBeInstanceOf(CgroupError);
    expect((caught as CgroupError).code).toBe('INVALID_PATH');
    expect((caught as Error).message).toMatch(new RegExp(why === 'root' ? 'root' : why === 'NUL' ? 'NUL' : why === 'escapes' ? 'escapes' : 'invalid'));
  });

  it('rejects hostile container ids for the default path', () => {
    for (const id of ['', '..', 'a/b', '.', 'a\0']) {
      expect(() => resolveCgroupPath(undefined, id)).toThrow(CgroupPathError);
    }
  });
});
