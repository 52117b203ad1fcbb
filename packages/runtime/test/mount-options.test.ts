import { MS } from '@gantry/linux';
import { parseMountOptions, rootfsPropagationFlags } from '../src/init/mount-options';

describe('parseMountOptions', () => {
  it('splits flags, data and propagation like runc', () => {
    const o = parseMountOptions(['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k', 'rprivate']);
    expect(o.flags).toBe(MS.NOSUID | MS.NOEXEC | MS.NODEV);
    expect(o.data).toBe('mode=1777,size=65536k');
    expect(o.propagation).toEqual([MS.PRIVATE | MS.REC]);
    expect(o.bind).toBe(false);
  });

  it('recognises bind and rbind, and later options clear earlier ones', () => {
    const o = parseMountOptions(['rbind', 'ro', 'rw', 'nosuid', 'suid', 'noatime']);
    expect(o.bind).toBe(true);
    expect(o.recursive).toBe(true);
    expect(o.flags).toBe(MS.BIND | MS.REC | MS.NOATIME);
  });

  it('defaults the rootfs propagation to rslave and refuses unknown values', () => {
    expect(rootfsPropagationFlags(undefined)).toBe(MS.SLAVE | MS.REC);
    expect(rootfsPropagationFlags('private')).toBe(MS.PRIVATE);
    expect(() => rootfsPropagationFlags('sideways')).toThrow(/unknown rootfsPropagation/);
  });
});
