import { FakeSys, PR, SysError } from '@gantry/linux';
import { OrphanWaiter, shellStatus } from '../src/process/orphans';

/** A FakeSys whose waitpid answers come from a table: undefined = still running, a number = status word. */
function sysWith(answers: Map<number, number | undefined | 'ECHILD'>): FakeSys {
  const sys = new FakeSys();
  sys.reap = (pid: number) => {
    sys.calls.push({ op: 'reap', args: [pid] });
    const a = answers.get(pid);
    if (a === 'ECHILD') throw new SysError('waitpid', 10, String(pid));
    return a;
  };
  return sys;
}

describe('shellStatus', () => {
  it('turns wait status words into shell exit statuses', () => {
    expect(shellStatus(0)).toBe(0);
    expect(shellStatus(7 << 8)).toBe(7);
    expect(shellStatus(9)).toBe(137);
    expect(shellStatus(15 | 0x80)).toBe(143); // core dumped flag does not change the signal
  });
});

describe('OrphanWaiter', () => {
  it('makes this process a child subreaper when asked', () => {
    const sys = new FakeSys();
    new OrphanWaiter(sys).becomeSubreaper();
    expect(sys.callsOf('prctl')).toEqual([[PR.SET_CHILD_SUBREAPER, 1, 0, 0, 0]]);
  });

  it('resolves with the exit status once SIGCHLD finds the process reaped', async () => {
    const answers = new Map<number, number | undefined | 'ECHILD'>([[100, undefined]]);
    const waiter = new OrphanWaiter(sysWith(answers));
    const done = waiter.wait(100);
    expect(waiter.has(100)).toBe(true);
    let settled = false;
    void done.then(() => (settled = true));
    process.emit('SIGCHLD', 'SIGCHLD');
    await Promise.resolve();
    expect(settled).toBe(false);
    answers.set(100, 3 << 8);
    process.emit('SIGCHLD', 'SIGCHLD');
    await expect(done).resolves.toBe(3);
    expect(waiter.has(100)).toBe(false);
    expect(process.listeners('SIGCHLD')).toHaveLength(0);
  });

  it('resolves at once for a program that exited before it was awaited', async () => {
    const waiter = new OrphanWaiter(sysWith(new Map([[5, 9]])));
    await expect(waiter.wait(5)).resolves.toBe(137);
  });

  it('rejects, clearly, a pid that is not our child', async () => {
    const waiter = new OrphanWaiter(sysWith(new Map([[6, 'ECHILD']])));
    await expect(waiter.wait(6)).rejects.toThrow(/process 6 is not a child of this process/);
    expect(waiter.has(6)).toBe(false);
  });

  it('waits for several programs independently', async () => {
    const answers = new Map<number, number | undefined | 'ECHILD'>([
      [1, undefined],
      [2, undefined],
    ]);
    const waiter = new OrphanWaiter(sysWith(answers));
    const one = waiter.wait(1);
    const two = waiter.wait(2);
    answers.set(2, 0);
    process.emit('SIGCHLD', 'SIGCHLD');
    await expect(two).resolves.toBe(0);
    expect(waiter.has(1)).toBe(true);
    answers.set(1, 1 << 8);
    process.emit('SIGCHLD', 'SIGCHLD');
    await expect(one).resolves.toBe(1);
  });
});
