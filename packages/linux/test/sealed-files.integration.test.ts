/**
 * The calls behind the runtime's stage-executable guard, on the real kernel (root): a detached
 * read-only overlay (fsopen/fsconfig/fsmount) whose files cannot be opened for writing and that
 * appears in no mount table, a sealed memfd that refuses writes, and F_DUPFD_CLOEXEC.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describeIf, needRoot } from '@gantry/testkit';
import { F, F_SEAL, FD_CLOEXEC, MFD, MOUNT_ATTR, O } from '../src/constants';
import { SysError } from '../src/errors';
import { LinuxSys } from '../src/linux-sys';

const maybe = describeIf(needRoot());

maybe('detached mounts and sealed memfds (root integration)', () => {
  const sys = new LinuxSys();
  let dir: string;
  const opened: number[] = [];
  const keep = (fd: number): number => (opened.push(fd), fd);

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gantry-linux-sealed-'));
    fs.mkdirSync(path.join(dir, 'top'));
    fs.mkdirSync(path.join(dir, 'bottom'));
    fs.writeFileSync(path.join(dir, 'top', 'prog'), 'original');
  });
  afterAll(() => {
    for (const fd of opened.reverse()) {
      try {
        sys.close(fd);
      } catch {
        // already closed by the test
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a file on a detached overlay with two lower layers and no upper one cannot be opened for writing', () => {
    const ctx = keep(sys.fsopen('overlay'));
    sys.fsconfigString(ctx, 'lowerdir', `${path.join(dir, 'top')}:${path.join(dir, 'bottom')}`);
    sys.fsconfigCreate(ctx);
    const mnt = keep(sys.fsmount(ctx, MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV));
    const fd = keep(sys.openat(mnt, 'prog', O.PATH | O.NOFOLLOW | O.CLOEXEC));
    expect(fs.readFileSync(`/proc/self/fd/${fd}`, 'utf8')).toBe('original');
    expect(() => fs.openSync(`/proc/self/fd/${fd}`, 'r+')).toThrow(expect.objectContaining({ code: 'EROFS' }));
    // attached nowhere: no mount table mentions the layers
    expect(fs.readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(dir);
    expect(sys.fcntlInt(fd, F.GETFD, 0) & FD_CLOEXEC).toBe(FD_CLOEXEC);
  });

  it('a single lower layer and no upper one is refused (why the guard stacks two)', () => {
    const ctx = keep(sys.fsopen('overlay'));
    sys.fsconfigString(ctx, 'lowerdir', path.join(dir, 'top'));
    expect(() => sys.fsconfigCreate(ctx)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  it('a memfd filled with sendfile and sealed refuses writes, and reports its seals', () => {
    const src = keep(sys.open(path.join(dir, 'top', 'prog'), O.RDONLY | O.CLOEXEC));
    const mfd = keep(sys.memfdCreate('gantry-test', MFD.CLOEXEC | MFD.ALLOW_SEALING));
    let copied = 0;
    for (let n; (n = sys.sendfile(mfd, src, 1 << 20)) > 0;) copied += n;
    expect(copied).toBe('original'.length);
    const seals = F_SEAL.WRITE | F_SEAL.SHRINK | F_SEAL.GROW | F_SEAL.SEAL;
    sys.fcntlInt(mfd, F.ADD_SEALS, seals);
    expect(sys.fcntlInt(mfd, F.GET_SEALS, 0)).toBe(seals);
    expect(fs.readFileSync(`/proc/self/fd/${mfd}`, 'utf8')).toBe('original');
    let err: unknown;
    try {
      sys.write(mfd, 'changed');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SysError);
    expect((err as SysError).code).toBe('EPERM');
  });

  it('F_DUPFD_CLOEXEC gives a close-on-exec copy at or above the asked number', () => {
    const src = keep(sys.open(dir, O.RDONLY | O.DIRECTORY | O.CLOEXEC));
    const dup = keep(sys.fcntlInt(src, F.DUPFD_CLOEXEC, 200));
    expect(dup).toBeGreaterThanOrEqual(200);
    expect(sys.fcntlInt(dup, F.GETFD, 0) & FD_CLOEXEC).toBe(FD_CLOEXEC);
  });
});
