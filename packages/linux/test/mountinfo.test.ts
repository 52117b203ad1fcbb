import { mountPointsUnder, parseMountinfo, parseMountinfoLine, unescapeMountinfo } from '../src';

const SAMPLE = [
  '21 26 0:20 / /proc rw,relatime - proc proc rw',
  '36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 shared:7 - ext3 /dev/root rw,errors=continue',
  '40 26 0:35 / /tmp/with\\040space\\011tab rw - tmpfs tmpfs rw,size=64k',
  '41 40 0:36 / /tmp/with\\040space\\011tab/sub\\134dir rw - overlay overlay rw,lowerdir=/a:/b',
  '42 26 0:4 net:[4026532000] /run/netns/x rw - nsfs nsfs rw',
  '',
  'garbage line',
].join('\n');

describe('mountinfo', () => {
  it('reads every field, the optional ones up to the "-" separator', () => {
    expect(parseMountinfoLine('36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 shared:7 - ext3 /dev/root rw,errors=continue')).toEqual({
      id: 36,
      parentId: 35,
      major: 98,
      minor: 0,
      root: '/mnt1',
      mountPoint: '/mnt2',
      options: ['rw', 'noatime'],
      optional: ['master:1', 'shared:7'],
      fstype: 'ext3',
      source: '/dev/root',
      superOptions: ['rw', 'errors=continue'],
    });
  });

  it('decodes the octal escapes in paths and skips lines that are not mounts', () => {
    const all = parseMountinfo(SAMPLE);
    expect(all.map((m) => m.mountPoint)).toEqual(['/proc', '/mnt2', '/tmp/with space\ttab', '/tmp/with space\ttab/sub\\dir', '/run/netns/x']);
    expect(all[4]).toMatchObject({ fstype: 'nsfs', root: 'net:[4026532000]' });
    expect(unescapeMountinfo('a\\012b')).toBe('a\nb');
  });

  it('lists mount points at or under a directory, deepest first', () => {
    const all = parseMountinfo(SAMPLE);
    expect(mountPointsUnder(all, '/tmp/with space\ttab')).toEqual(['/tmp/with space\ttab/sub\\dir', '/tmp/with space\ttab']);
    expect(mountPointsUnder(all, '/tmp/with')).toEqual([]);
  });
});
