import {
  FakeSys,
  KNOWN_MOUNT_OPTIONS,
  LockedMountFlagsError,
  MOUNT_ATTR,
  MS,
  ST,
  SysError,
  applyMount,
  mountSteps,
  parseMountOptions,
  remountReadonly,
  requestOptions,
  statfsToMountFlags,
} from '../src';

describe('parseMountOptions', () => {
  it('splits flags, cleared flags, propagation and data, like runc', () => {
    const o = parseMountOptions(['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k', 'rprivate']);
    expect(o.flags).toBe(MS.NOSUID | MS.NOEXEC | MS.NODEV);
    expect(o.cleared).toBe(0);
    expect(o.data).toBe('mode=1777,size=65536k');
    expect(o.propagation).toEqual([MS.PRIVATE | MS.REC]);
    expect(o.bind).toBe(false);
    expect(o.recursive).toBeUndefined();
  });

  it('lets later words win and remembers what was cleared', () => {
    const o = parseMountOptions(['rbind', 'ro', 'rw', 'nosuid', 'suid', 'noatime']);
    expect(o.bind).toBe(true);
    expect(o.recursiveBind).toBe(true);
    expect(o.flags).toBe(MS.BIND | MS.REC | MS.NOATIME);
    expect(o.cleared).toBe(MS.RDONLY | MS.NOSUID);
    const again = parseMountOptions(['rw', 'ro']);
    expect(again.flags).toBe(MS.RDONLY);
    expect(again.cleared).toBe(0);
  });

  it('reads a mount(8) -o string, skipping "defaults" and empty words', () => {
    expect(parseMountOptions('defaults,size=64m,,noexec,uid=1000')).toMatchObject({ flags: MS.NOEXEC, data: 'size=64m,uid=1000' });
    expect(parseMountOptions(undefined)).toMatchObject({ flags: 0, data: '', propagation: [] });
  });

  it('turns r-words into mount_setattr attributes, with the atime field cleared when an atime mode is chosen', () => {
    expect(parseMountOptions(['rbind', 'rro', 'rnosuid']).recursive).toEqual({ set: MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID, clear: 0 });
    expect(parseMountOptions(['rro', 'rrw']).recursive).toEqual({ set: 0, clear: MOUNT_ATTR.RDONLY });
    expect(parseMountOptions(['rnoatime']).recursive).toEqual({ set: MOUNT_ATTR.NOATIME, clear: MOUNT_ATTR.ATIME_MASK });
  });

  it('does not take prototype names for option words', () => {
    expect(parseMountOptions(['constructor', 'toString'])).toMatchObject({ flags: 0, data: 'constructor,toString' });
  });

  it('reads type "bind"/"rbind" as the bind option', () => {
    expect(requestOptions({ type: 'bind', source: '/x', options: ['ro'] })).toMatchObject({ bind: true, recursiveBind: false, flags: MS.BIND | MS.RDONLY });
    expect(requestOptions({ type: 'rbind', source: '/x' })).toMatchObject({ bind: true, recursiveBind: true });
  });

  it('lists every word it knows, once', () => {
    expect(KNOWN_MOUNT_OPTIONS).toEqual(expect.arrayContaining(['ro', 'rbind', 'rprivate', 'rro', 'defaults', 'nosymfollow']));
    expect(new Set(KNOWN_MOUNT_OPTIONS).size).toBe(KNOWN_MOUNT_OPTIONS.length);
  });
});

describe('mountSteps', () => {
  it('makes a read-only bind a bind followed by MS_REMOUNT|MS_BIND|MS_RDONLY', () => {
    expect(mountSteps({ type: 'bind', source: '/src', options: ['rbind', 'ro', 'nosuid'] })).toEqual([
      { kind: 'mount', source: '/src', fstype: null, flags: MS.BIND | MS.REC, data: null },
      { kind: 'bind-remount', source: null, fstype: null, flags: MS.BIND | MS.REMOUNT | MS.RDONLY | MS.NOSUID, data: null },
    ]);
  });

  it('needs no remount for a plain bind, but does for an explicit "rw" (the flags must be exactly the asked ones)', () => {
    expect(mountSteps({ source: '/src', options: ['bind'] })).toHaveLength(1);
    expect(mountSteps({ source: '/src', options: ['bind', 'rw'] })[1]).toMatchObject({ kind: 'bind-remount', flags: MS.BIND | MS.REMOUNT });
  });

  it('gives other filesystems their flags and data in one call, then one call per propagation change', () => {
    expect(mountSteps({ type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'mode=755', 'rslave', 'private'] })).toEqual([
      { kind: 'mount', source: 'tmpfs', fstype: 'tmpfs', flags: MS.NOSUID, data: 'mode=755' },
      { kind: 'propagation', source: null, fstype: null, flags: MS.SLAVE | MS.REC, data: null },
      { kind: 'propagation', source: null, fstype: null, flags: MS.PRIVATE, data: null },
    ]);
    expect(mountSteps({ type: 'proc' })[0]).toMatchObject({ source: 'proc', fstype: 'proc', data: null });
  });
});

describe('statfsToMountFlags', () => {
  it('maps ST_* to MS_* (ST_RELATIME is not MS_RELATIME) and reports strictatime when no atime mode is set', () => {
    expect(statfsToMountFlags(ST.RDONLY | ST.NOSUID | ST.RELATIME)).toBe(MS.RDONLY | MS.NOSUID | MS.RELATIME);
    expect(statfsToMountFlags(ST.NODEV)).toBe(MS.NODEV | MS.STRICTATIME);
  });
});

describe('applyMount', () => {
  it('sends the first call to the target and later ones where `after` says', () => {
    const sys = new FakeSys();
    applyMount(sys, { type: 'bind', source: '/src', options: ['ro', 'rshared'] }, { first: '/first', after: () => '/after' });
    expect(sys.callsOf('mount')).toEqual([
      ['/src', '/first', null, MS.BIND, null],
      [null, '/after', null, MS.BIND | MS.REMOUNT | MS.RDONLY, null],
      [null, '/after', null, MS.SHARED | MS.REC, null],
    ]);
  });

  it('attaches a detached source with move_mount instead of binding its path, then remounts as asked', () => {
    const sys = new FakeSys();
    applyMount(sys, { type: 'bind', source: '/host/src', options: ['ro'], detached: 17 }, { first: '/proc/self/fd/5', after: () => '/after' });
    expect(sys.callsOf('moveMountFd')).toEqual([[17, '/proc/self/fd/5']]);
    expect(sys.callsOf('mount')).toEqual([[null, '/after', null, MS.BIND | MS.REMOUNT | MS.RDONLY, null]]);
    // a seam without move_mount cannot take such a request
    const noMove = { mount: sys.mount.bind(sys), statfs: sys.statfs.bind(sys), mountSetattr: sys.mountSetattr.bind(sys) };
    expect(() => applyMount(noMove, { type: 'bind', source: '/s', detached: 3 }, '/t')).toThrow(/moveMountFd/);
  });

  it('retries a refused bind remount with the source mount locked flags', () => {
    const sys = new FakeSys();
    sys.fsTypes.set('/src', { type: 0xef53, flags: ST.NOSUID | ST.NODEV | ST.RELATIME });
    const calls: unknown[][] = [];
    let remounts = 0;
    jest.spyOn(sys, 'mount').mockImplementation((source, target, fstype, flags, data) => {
      calls.push([source, target, fstype, flags, data]);
      if ((flags & MS.REMOUNT) !== 0 && remounts++ === 0) throw new SysError('mount', 1, target);
    });
    applyMount(sys, { source: '/src', options: ['bind', 'ro'] }, '/t');
    expect(calls).toEqual([
      ['/src', '/t', null, MS.BIND, null],
      [null, '/t', null, MS.BIND | MS.REMOUNT | MS.RDONLY, null],
      [null, '/t', null, MS.BIND | MS.REMOUNT | MS.RDONLY | MS.NOSUID | MS.NODEV | MS.RELATIME, null],
    ]);
  });

  it('refuses to clear a locked flag rather than make a different mount', () => {
    const sys = new FakeSys();
    sys.fsTypes.set('/src', { type: 0xef53, flags: ST.NOSUID });
    jest.spyOn(sys, 'mount').mockImplementation((_s, target, _f, flags) => {
      if ((flags & MS.REMOUNT) !== 0) throw new SysError('mount', 1, target);
    });
    expect(() => applyMount(sys, { source: '/src', options: ['bind', 'suid'] }, '/t')).toThrow(LockedMountFlagsError);
  });

  it('applies recursive attributes with mount_setattr(AT_RECURSIVE) on the new mount', () => {
    const sys = new FakeSys();
    applyMount(sys, { source: '/src', options: ['rbind', 'rro'] }, { first: '/first', after: () => '/after' });
    expect(sys.callsOf('mountSetattr')).toEqual([[-100, '/after', 0x8000, MOUNT_ATTR.RDONLY, 0]]);
  });
});

describe('remountReadonly', () => {
  it('adds the flags locked on the mount when the plain remount is refused', () => {
    const sys = new FakeSys();
    sys.fsTypes.set('/', { type: 0xef53, flags: ST.NODEV | ST.NOEXEC });
    let n = 0;
    const seen: number[] = [];
    jest.spyOn(sys, 'mount').mockImplementation((_s, t, _f, flags) => {
      seen.push(flags);
      if (n++ === 0) throw new SysError('mount', 1, t);
    });
    remountReadonly(sys, '/');
    expect(seen).toEqual([MS.RDONLY | MS.BIND | MS.REMOUNT, MS.RDONLY | MS.BIND | MS.REMOUNT | MS.NODEV | MS.NOEXEC | MS.STRICTATIME]);
  });
});
