import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { linuxSys, S_IF, type Sys } from '@gantry/linux';
import { ChangeKind, overlayChanges } from '../src/containers/changes';

// whiteouts (0:0 char devices) and trusted.* xattrs need root, as overlayfs itself does (CI is root)
describe('overlayChanges', () => {
  let dir: string;
  const sys = linuxSys();
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gch-'));
    const lower = path.join(dir, 'lower');
    const upper = path.join(dir, 'upper');
    for (const d of ['etc', 'bin', 'var/lib/data', 'same']) fs.mkdirSync(path.join(lower, d), { recursive: true });
    fs.writeFileSync(path.join(lower, 'etc/passwd'), 'root\n');
    fs.writeFileSync(path.join(lower, 'bin/vi'), 'x');
    fs.writeFileSync(path.join(lower, 'var/lib/data/a'), 'a');
    fs.writeFileSync(path.join(lower, 'var/lib/data/b'), 'b');
    // upper: /etc/passwd modified, /bin/vi deleted, /new added, /var/lib/data opaque (a kept as new, b gone)
    for (const d of ['etc', 'bin', 'var/lib/data', 'same']) fs.mkdirSync(path.join(upper, d), { recursive: true });
    fs.writeFileSync(path.join(upper, 'etc/passwd'), 'root\nme\n');
    sys.mknod(path.join(upper, 'bin/vi'), S_IF.CHR, 0, 0);
    fs.writeFileSync(path.join(upper, 'new'), 'n');
    fs.writeFileSync(path.join(upper, 'var/lib/data/a'), 'new a');
    sys.lsetxattr(path.join(upper, 'var/lib/data'), 'trusted.overlay.opaque', Buffer.from('y'));
    // a directory copied up unchanged (same mode, size, mtime) is not a change by itself
    for (const d of [lower, upper]) {
      fs.utimesSync(path.join(d, 'same'), 1_600_000_000, 1_600_000_000);
      fs.chmodSync(path.join(d, 'same'), 0o755);
    }
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reports modified, added and deleted paths with Docker kinds', () => {
    const changes = overlayChanges(path.join(dir, 'upper'), [path.join(dir, 'lower')]);
    const byPath = Object.fromEntries(changes.map((c) => [c.Path, c.Kind]));
    expect(byPath['/etc/passwd']).toBe(ChangeKind.Modified);
    expect(byPath['/bin/vi']).toBe(ChangeKind.Deleted);
    expect(byPath['/bin']).toBe(ChangeKind.Modified);
    expect(byPath['/new']).toBe(ChangeKind.Added);
    expect(byPath['/var/lib/data/a']).toBe(ChangeKind.Modified);
    expect(byPath['/var/lib/data/b']).toBe(ChangeKind.Deleted);
    expect(byPath['/same']).toBeUndefined();
    expect(changes.filter((c) => c.Path === '/bin')).toHaveLength(1);
  });
});

describe('overlayChanges on hostile layers', () => {
  let dir: string;
  let host: string;
  const sys = linuxSys();
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gch-hostile-'));
    host = path.join(dir, 'host');
    fs.mkdirSync(host);
    fs.writeFileSync(path.join(host, 'marker'), 'HOST');
    fs.mkdirSync(path.join(dir, 'lower'));
    fs.mkdirSync(path.join(dir, 'upper'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('does not look through an image link to the host to tell added from modified', () => {
    // the image has a -> <host>; the container replaced it with a directory holding "marker"
    fs.symlinkSync(host, path.join(dir, 'lower', 'a'));
    fs.mkdirSync(path.join(dir, 'upper', 'a'));
    fs.writeFileSync(path.join(dir, 'upper', 'a', 'marker'), 'mine');
    // following the image's link on the host finds the host's marker
    expect(fs.existsSync(path.join(dir, 'lower', 'a', 'marker'))).toBe(true);
    const byPath = Object.fromEntries(overlayChanges(path.join(dir, 'upper'), [path.join(dir, 'lower')]).map((c) => [c.Path, c.Kind]));
    expect(byPath['/a/marker']).toBe(ChangeKind.Added);
  });

  it('lists a directory of the upper dir swapped for a host link while walking as it was', () => {
    fs.mkdirSync(path.join(dir, 'upper', 'z'));
    fs.writeFileSync(path.join(dir, 'upper', 'z', 'mine'), 'x');
    let swapped = false;
    const hooked = new Proxy(sys, {
      get(target, key: keyof Sys) {
        if (key === 'openat') {
          return (fd: number, name: string, flags: number, mode?: number) => {
            const r = sys.openat(fd, name, flags, mode);
            if (name === 'z' && !swapped) {
              swapped = true;
              fs.renameSync(path.join(dir, 'upper', 'z'), path.join(dir, 'z.moved'));
              fs.symlinkSync(host, path.join(dir, 'upper', 'z'));
            }
            return r;
          };
        }
        const v = target[key];
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const paths = overlayChanges(path.join(dir, 'upper'), [path.join(dir, 'lower')], hooked).map((c) => c.Path);
    expect(swapped).toBe(true);
    expect(paths).toEqual(['/z', '/z/mine']);
    // a path joined from the upper dir now lists the host's directory
    expect(fs.readdirSync(path.join(dir, 'upper', 'z'))).toEqual(['marker']);
  });
});
