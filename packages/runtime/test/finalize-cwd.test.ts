import { FakeSys } from '@gantry/linux';
import { finalizeProcess } from '../src/init/finalize';
import type { Process } from '../src/spec/types';

function proc(cwd: string): Process {
  return { args: ['/bin/sh'], cwd, user: { uid: 42, gid: 42 }, env: ['PATH=/bin'] };
}

function fake(): FakeSys {
  const sys = new FakeSys();
  sys.addFile('/bin/sh', '', 0o755);
  sys.addDir('/root');
  sys.calls.length = 0;
  return sys;
}

const order = (sys: FakeSys) => sys.calls.map((c) => (c.op === 'chdir' ? `chdir ${String(c.args[0])}` : c.op));

describe('the working directory, entered as runc enters it', () => {
  it('is entered before the user switch, while root may still reach it (a 0700 /root)', () => {
    const sys = fake();
    finalizeProcess(sys, proc('/root'), { lastCap: 40, preserveFds: 0, resetSignals: false });
    const o = order(sys);
    expect(o.filter((op) => op.startsWith('chdir'))).toEqual(['chdir /root']);
    expect(o.indexOf('chdir /root')).toBeLessThan(o.indexOf('setresuid'));
  });

  it('is entered again as the user when root was refused (a directory only the user may enter)', () => {
    const sys = fake();
    sys.failOn('chdir', 13 /* EACCES */, '/root');
    finalizeProcess(sys, proc('/root'), { lastCap: 40, preserveFds: 0, resetSignals: false });
    const o = order(sys);
    expect(o.filter((op) => op.startsWith('chdir'))).toEqual(['chdir /root', 'chdir /root']);
    expect(o.lastIndexOf('chdir /root')).toBeGreaterThan(o.indexOf('setresuid'));
  });

  it('fails at once for anything but a permission error', () => {
    const sys = fake();
    sys.failOn('chdir', 20 /* ENOTDIR */, '/root');
    expect(() => finalizeProcess(sys, proc('/root'), { lastCap: 40, preserveFds: 0, resetSignals: false })).toThrow(
      'cannot enter the working directory /root: chdir /root: ENOTDIR (not a directory)',
    );
    expect(sys.callsOf('setresuid')).toEqual([]);
  });

  it('fails as the user too when both are refused', () => {
    const sys = fake();
    const chdir = sys.chdir.bind(sys);
    sys.chdir = (p: string) => {
      sys.failOn('chdir', 13 /* EACCES */, p); // refused every time
      chdir(p);
    };
    expect(() => finalizeProcess(sys, proc('/root'), { lastCap: 40, preserveFds: 0, resetSignals: false })).toThrow(
      'cannot enter the working directory /root: chdir /root: EACCES (permission denied)',
    );
    expect(sys.callsOf('setresuid')).toEqual([[42]]);
  });
});
