import { FakeSys } from '@gantry/linux';
import { receiveHandover, receiveInitHandover } from '../src/init/handover';
import type { ExecBootstrap, InitBootstrap } from '../src/process/messages';

const base: ExecBootstrap = {
  mode: 'exec',
  id: 'c1',
  process: { args: ['true'], cwd: '/', user: { uid: 0, gid: 0 } },
  preserveFds: 0,
  namespaceFds: [
    { type: 'network', fd: -1 },
    { type: 'mount', fd: -1 },
  ],
  lastCap: 40,
};

describe('a warm exec stage receives its fds', () => {
  it('makes the first three its stdio and puts the others in place of the placeholders, in order', () => {
    const sys = new FakeSys();
    const b = receiveHandover(sys, {
      ...base,
      consoleSocketFd: -1,
      seccompAgent: { fd: -1, state: '{"pid":1}' },
      handover: { socketFd: 7 },
    });
    const received = sys.calls.filter((c) => c.op === 'recvFd');
    expect(received.map((c) => c.args)).toEqual(Array.from({ length: 7 }, () => [7]));
    // FakeSys hands out fds from 10 up: stdin 10, stdout 11, stderr 12, then the rest
    expect(sys.callsOf('dup2')).toEqual([
      [10, 0],
      [11, 1],
      [12, 2],
    ]);
    expect(b.namespaceFds).toEqual([
      { type: 'network', fd: 13 },
      { type: 'mount', fd: 14 },
    ]);
    expect(b.consoleSocketFd).toBe(15);
    expect(b.seccompAgent).toEqual({ fd: 16, state: '{"pid":1}' });
    expect(b.handover).toBeUndefined();
    // the received stdio copies and the fd socket are closed; the others stay for runExec
    expect(sys.callsOf('close')).toEqual([[10], [11], [12], [7]]);
  });

  it('leaves a cold stage bootstrap as it is', () => {
    const sys = new FakeSys();
    expect(receiveHandover(sys, base)).toBe(base);
    expect(sys.calls).toEqual([]);
  });
});

describe('a warm init stage receives its fds', () => {
  const init: InitBootstrap = {
    mode: 'init',
    id: 'c1',
    bundle: '/b',
    rootfs: '/b/rootfs',
    spec: { ociVersion: '1.0.2' },
    stateDir: '/run/x/c1',
    noPivot: false,
    preserveFds: 0,
    cgroupPath: '/c1',
    hostCgroups: [],
    lastCap: 40,
    runtimeHooks: false,
  };

  it('makes the first three its stdio, then the console socket and the seccomp agent, and closes the socket', () => {
    const sys = new FakeSys();
    const b = receiveInitHandover(sys, { ...init, consoleSocketFd: -1, seccompAgent: { fd: -1, state: '{}' }, handover: { socketFd: 5 } });
    expect(sys.callsOf('recvFd')).toEqual(Array.from({ length: 5 }, () => [5]));
    expect(sys.callsOf('dup2')).toEqual([
      [10, 0],
      [11, 1],
      [12, 2],
    ]);
    expect(b.consoleSocketFd).toBe(13);
    expect(b.seccompAgent).toEqual({ fd: 14, state: '{}' });
    expect(b.handover).toBeUndefined();
    expect(sys.callsOf('close')).toEqual([[10], [11], [12], [5]]);
  });

  it('receives only stdio when there is neither a console nor an agent', () => {
    const sys = new FakeSys();
    const b = receiveInitHandover(sys, { ...init, handover: { socketFd: 5 } });
    expect(sys.callsOf('recvFd')).toHaveLength(3);
    expect(b.consoleSocketFd).toBeUndefined();
    expect(b.seccompAgent).toBeUndefined();
  });

  it('leaves a cold stage bootstrap as it is', () => {
    const sys = new FakeSys();
    expect(receiveInitHandover(sys, init)).toBe(init);
    expect(sys.calls).toEqual([]);
  });
});
