import { PR, SysError, type Sys } from '@gantry/linux';
import { RuntimeError } from '../errors';

/** Exit status in shell convention (the code, or 128 + signal) from a wait(2) status word. */
export function shellStatus(status: number): number {
  const signal = status & 0x7f;
  return signal === 0 ? (status >> 8) & 0xff : 128 + signal;
}

/**
 * Waits for processes this process adopted as a child subreaper: an exec'd program is the exec
 * stage's child and comes to us when the stage exits. libuv reaps only the children it spawned
 * (waitpid per pid), so these are reaped here, by pid, whenever SIGCHLD arrives. A ref'd timer keeps
 * the event loop alive while one is awaited (as a ChildProcess would) and checks again now and then.
 */
export class OrphanWaiter {
  private readonly waiting = new Map<number, { resolve: (status: number) => void; reject: (e: Error) => void }>();
  private timer: NodeJS.Timeout | undefined;
  private readonly onSignal = () => this.checkAll();

  constructor(private readonly sys: Sys) {}

  /** Make this process the reaper of its descendants' orphans (PR_SET_CHILD_SUBREAPER). */
  becomeSubreaper(): void {
    this.sys.prctl(PR.SET_CHILD_SUBREAPER, 1);
  }

  /**
   * The exit status of `pid`, which must already be our child (its parent, the stage, has exited).
   * Rejects when it is not: this process is not a subreaper, or someone else reaped it.
   */
  wait(pid: number): Promise<number> {
    if (this.waiting.has(pid)) throw new RuntimeError(`process ${pid} is already awaited`);
    const done = new Promise<number>((resolve, reject) => this.waiting.set(pid, { resolve, reject }));
    if (!this.timer) {
      process.on('SIGCHLD', this.onSignal);
      this.timer = setInterval(this.onSignal, 1000);
    }
    this.check(pid);
    return done;
  }

  /** Whether `pid` is awaited here (a stray-zombie reaper must leave it alone). */
  has(pid: number): boolean {
    return this.waiting.has(pid);
  }

  private checkAll(): void {
    for (const pid of [...this.waiting.keys()]) this.check(pid);
  }

  private check(pid: number): void {
    const w = this.waiting.get(pid);
    if (!w) return;
    let status: number | undefined;
    try {
      status = this.sys.reap(pid);
    } catch (e) {
      if (e instanceof SysError && e.code === 'EINTR') return;
      this.settle(pid);
      const notOurs = e instanceof SysError && e.code === 'ECHILD';
      w.reject(notOurs ? new RuntimeError(`process ${pid} is not a child of this process (reparented elsewhere, or reaped by someone else)`) : (e as Error));
      return;
    }
    if (status === undefined) return;
    this.settle(pid);
    w.resolve(shellStatus(status));
  }

  private settle(pid: number): void {
    this.waiting.delete(pid);
    if (this.waiting.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
      process.off('SIGCHLD', this.onSignal);
    }
  }
}
