/**
 * The confined resolver on the real kernel: openat2 and the fallback walk must agree on a hostile
 * tree (links to "/", "..", the host's files, loops). Needs no root.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { O, SysError, linuxSys, mkdirAllInRoot, openBeneath, openInRoot, openRoot, resetOpenat2Probe, fdPath } from '../src';

const sys = linuxSys();
let tmp: string;
let rootfs: string;
let host: string;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gantry-inroot-'));
  rootfs = path.join(tmp, 'rootfs');
  host = path.join(tmp, 'host');
  fs.mkdirSync(path.join(rootfs, 'etc'), { recursive: true });
  fs.mkdirSync(host);
  fs.writeFileSync(path.join(host, 'marker'), 'HOST');
  fs.writeFileSync(path.join(rootfs, 'etc', 'passwd'), 'root:x:0:0');
  fs.symlinkSync('/', path.join(rootfs, 'abs-root'));
  fs.symlinkSync(path.join(host, 'marker'), path.join(rootfs, 'etc', 'shadow'));
  fs.symlinkSync('../'.repeat(20) + host.slice(1), path.join(rootfs, 'climb'));
  fs.symlinkSync(host, path.join(rootfs, 'dev'));
  fs.symlinkSync('/proc/self/root', path.join(rootfs, 'magic'));
  fs.symlinkSync('b', path.join(rootfs, 'a'));
  fs.symlinkSync('a', path.join(rootfs, 'b'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function read(fd: number): string {
  try {
    return fs.readFileSync(fd, 'utf8');
  } finally {
    sys.close(fd);
  }
}

const modes: [string, () => void][] = [
  ['openat2', () => resetOpenat2Probe()],
  [
    'fallback walk',
    () => {
      resetOpenat2Probe();
      // an old kernel: openat2 does not exist
      jest.spyOn(sys, 'openat2').mockImplementation((_fd, p) => {
        throw new SysError('openat2', 38, p);
      });
    },
  ],
];

afterEach(() => jest.restoreAllMocks());

describe.each(modes)('openInRoot with %s', (_name, setup) => {
  beforeEach(() => setup());

  it('reads files inside the root', () => {
    const root = openRoot(sys, rootfs);
    expect(read(openInRoot(sys, root, '/abs-root/etc/passwd', O.RDONLY))).toBe('root:x:0:0');
    sys.close(root);
  });

  it('never reaches the host marker through links or ".."', () => {
    const root = openRoot(sys, rootfs);
    for (const p of ['/etc/shadow', 'climb', '../../../../' + host.slice(1) + '/marker', '/dev/marker']) {
      let where: string;
      try {
        const fd = openInRoot(sys, root, p, O.RDONLY);
        where = fdPath(sys, fd);
        sys.close(fd);
      } catch (e) {
        where = String(e);
      }
      // either nothing is found, or what is found is inside the root (an earlier test may have made it)
      expect(`${p}: ${where}`).toMatch(new RegExp(`ENOENT|ELOOP|ENOTDIR|${rootfs}/`));
      expect(where.startsWith(host)).toBe(false);
    }
    sys.close(root);
  });

  it('refuses magic links and loops', () => {
    const root = openRoot(sys, rootfs);
    expect(() => openInRoot(sys, root, '/magic/etc/passwd', O.RDONLY)).toThrow(/ELOOP|ENOENT|EXDEV/);
    expect(() => openInRoot(sys, root, '/a', O.RDONLY)).toThrow(/ELOOP/);
    sys.close(root);
  });

  it('openBeneath follows no link and stays below the fd', () => {
    const root = openRoot(sys, rootfs);
    expect(read(openBeneath(sys, root, 'etc/passwd', O.RDONLY))).toBe('root:x:0:0');
    for (const p of ['etc/shadow', 'abs-root/etc/passwd', 'climb', 'dev/marker']) expect(() => openBeneath(sys, root, p, O.RDONLY)).toThrow(/ELOOP/);
    expect(() => openBeneath(sys, root, '../x', O.RDONLY)).toThrow(/EXDEV/);
    const link = openBeneath(sys, root, 'etc/shadow', O.PATH);
    expect(fdPath(sys, link)).toBe(path.join(rootfs, 'etc', 'shadow'));
    sys.close(link);
    sys.close(root);
  });

  it('mkdirAllInRoot creates below the link target inside the root, never on the host', () => {
    const root = openRoot(sys, rootfs);
    const fd = mkdirAllInRoot(sys, root, '/dev/pts/x', 0o755);
    expect(fdPath(sys, fd)).toBe(path.join(rootfs, host, 'pts', 'x'));
    expect(fs.existsSync(path.join(host, 'pts'))).toBe(false);
    sys.close(fd);
    sys.close(root);
  });
});
