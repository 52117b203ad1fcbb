import { FakeSys } from '@gantry/linux';
import { closeStrayFds, markExecFds, verifyCwd } from '../src/init/fds';

describe('closeStrayFds', () => {
  it('closes fds that name files or directories, keeps anonymous ones, stdio and the kept set', () => {
    const sys = new FakeSys();
    sys.fds.push(3, 4, 5, 6, 7, 8);
    sys.fdPaths.set(3, '/run/gantry-runtime/c1'); // a state dir: the CVE-2024-21626 handle
    sys.fdPaths.set(4, 'anon_inode:[eventpoll]');
    sys.fdPaths.set(5, 'socket:[1234]');
    sys.fdPaths.set(6, '/var/log/app.log (deleted)');
    sys.fdPaths.set(7, '/run/gantry-runtime/c1/exec.fifo'); // kept: the stage still needs it
    // 8: a pipe (the fake's default answer)
    expect(closeStrayFds(sys, new Set([7]))).toEqual([3, 6]);
    expect(sys.fds).toEqual([0, 1, 2, 4, 5, 7, 8]);
  });

  it('skips an fd that is gone by the time it is looked at', () => {
    const sys = new FakeSys();
    sys.listFds = () => [0, 1, 2, 9];
    expect(closeStrayFds(sys, new Set())).toEqual([]);
  });
});

describe('markExecFds', () => {
  it('marks everything from 3 + preserved close-on-exec and passes stdio and the preserved fds on', () => {
    const sys = new FakeSys();
    markExecFds(sys, 2);
    expect(sys.callsOf('closeFrom')).toEqual([[5, true]]);
    expect(sys.callsOf('setCloexec')).toEqual([
      [0, false],
      [1, false],
      [2, false],
      [3, false],
      [4, false],
    ]);
  });

  it('tolerates a preserved fd the caller did not open (EBADF) but not other errors', () => {
    const sys = new FakeSys();
    sys.failOn('setCloexec', 9);
    expect(() => markExecFds(sys, 0)).not.toThrow();
    sys.failOn('setCloexec', 1);
    expect(() => markExecFds(sys, 0)).toThrow(/EPERM/);
  });
});

describe('verifyCwd', () => {
  it('accepts a cwd the kernel sees inside our root', () => {
    const sys = new FakeSys();
    sys.chdir('/srv/app');
    expect(() => verifyCwd(sys, '/srv/app')).not.toThrow();
  });

  it('refuses "(unreachable)" answers and ENOENT: the cwd is outside the root', () => {
    const sys = new FakeSys();
    sys.cwdOverride = '(unreachable)/run/gantry-runtime/c1';
    expect(() => verifyCwd(sys, '/proc/self/fd/7')).toThrow(
      "working directory /proc/self/fd/7 is outside the container's root (possible container breakout); refusing to start the process",
    );
    const gone = new FakeSys();
    gone.failOn('getcwd', 2);
    expect(() => verifyCwd(gone, '/proc/self/fd/7')).toThrow(/outside the container's root/);
  });

  it('reports other getcwd failures as such', () => {
    const sys = new FakeSys();
    sys.failOn('getcwd', 13);
    expect(() => verifyCwd(sys, '/data')).toThrow('cannot check the working directory /data: getcwd: EACCES (permission denied)');
  });
});
