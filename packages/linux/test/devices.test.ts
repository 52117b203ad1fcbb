import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DeviceLookupError, deviceMajor, deviceMinor, devicesAt, hostDevice, hostDevicesUnder } from '../src/devices';

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

describe('devicesAt (a --device mapping)', () => {
  const reason = (f: () => unknown): string => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(DeviceLookupError);
      return (e as DeviceLookupError).reason;
    }
    throw new Error('expected a DeviceLookupError');
  };

  test('a node at the container path; through a symlink, the target node at the link-named path', () => {
    expect(devicesAt('/dev/null', '/dev/mine')).toEqual([expect.objectContaining({ path: '/dev/mine', type: 'c', major: 1, minor: 3 })]);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devices-'));
    try {
      fs.symlinkSync('/dev/zero', path.join(dir, 'z'));
      expect(devicesAt(path.join(dir, 'z'), '/dev/z')).toEqual([expect.objectContaining({ path: '/dev/z', major: 1, minor: 5 })]);
      // a directory of links holds no node of its own
      expect(reason(() => devicesAt(dir, '/dev/d'))).toBe('not a device node');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('missing path and regular file: the reasons dockerd prints', () => {
    expect(reason(() => devicesAt('/dev/no-such-device', '/dev/x'))).toBe('no such file or directory');
    expect(reason(() => devicesAt('/etc/hostname', '/dev/x'))).toBe('not a device node');
  });
});
