import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { deviceMajor, deviceMinor, hostDevice, hostDevicesUnder } from '../src/devices';

/** glibc's makedev, to check the split the other way. */
function makedev(major: number, minor: number): bigint {
  const M = BigInt(major);
  const m = BigInt(minor);
  return ((M & 0xfffff000n) << 32n) | ((M & 0xfffn) << 8n) | ((m & 0xffffff00n) << 12n) | (m & 0xffn);
}

describe('device numbers', () => {
  test.each([
    [1, 3],
    [8, 0],
    [254, 17],
    [259, 65536],
    [4095, 255],
    [4096, 1048575],
  ])('%d:%d survives makedev and back', (major, minor) => {
    const rdev = makedev(major, minor);
    expect([deviceMajor(rdev), deviceMinor(rdev)]).toEqual([major, minor]);
  });
});

describe('host devices', () => {
  test('/dev/null is character device 1:3; a regular file and a directory are none', () => {
    expect(hostDevice('/dev/null')).toMatchObject({ path: '/dev/null', type: 'c', major: 1, minor: 3, fileMode: 0o666, uid: 0 });
    expect(hostDevice('/etc/hostname')).toBeUndefined();
    expect(hostDevice('/dev')).toBeUndefined();
    expect(() => hostDevice('/dev/no-such-device')).toThrow(/ENOENT/);
  });

  test('a symlink is followed only when asked', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devices-'));
    try {
      fs.symlinkSync('/dev/null', path.join(dir, 'link'));
      expect(hostDevice(path.join(dir, 'link'))).toMatchObject({ type: 'c', major: 1, minor: 3 });
      expect(hostDevice(path.join(dir, 'link'), false)).toBeUndefined();
      // a walk does not follow links either: a directory of links to devices holds none
      expect(hostDevicesUnder(dir, { all: true })).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("the host's /dev: nodes only, without pts, shm, mqueue or console", () => {
    const all = hostDevicesUnder('/dev');
    const paths = all.map((d) => d.path);
    expect(paths).toContain('/dev/null');
    expect(paths).toContain('/dev/zero');
    expect(paths.filter((p) => /^\/dev\/(pts|shm|mqueue|fd)\//.test(p) || p === '/dev/console')).toEqual([]);
    for (const d of all) expect(['c', 'b']).toContain(d.type);
    // /dev/stdin and friends are symlinks
    expect(paths).not.toContain('/dev/stdin');
  });
});
