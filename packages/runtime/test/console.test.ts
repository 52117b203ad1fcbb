import { FakeSys } from '@gantry/linux';
import { setupConsole } from '../src/init/console';

describe('the container console', () => {
  it('gives the pty to the process user but keeps the group devpts chose (tty, gid=5), as runc does', () => {
    const sys = new FakeSys();
    sys.addDir('/dev/pts');
    sys.files.set('/dev/pts/0', { kind: 'chr', mode: 0o620, uid: 0, gid: 5, rdev: 0x8800 });
    sys.calls.length = 0;
    setupConsole(sys, 9, { uid: 1000, gid: 100 });
    expect(sys.callsOf('chown')).toEqual([['/dev/pts/0', 1000, 5]]);
    expect(sys.callsOf('sendFd')[0]![0]).toBe(9);
  });
});
