import * as fs from 'node:fs';
import { linuxSys, type Sys } from '@gantry/linux';

/**
 * The receiving end of `--console-socket`: a unix socket on which the runtime's init stage sends
 * the pty master of a container (SCM_RIGHTS). Used by `run -t` and by the shim.
 */
export class ConsoleSocket {
  /** An accept() is running on a worker thread (koffi async). */
  private accepting = false;

  private constructor(
    readonly path: string,
    private readonly fd: number,
    private readonly sys: Sys,
  ) {}

  static listen(path: string, sys: Sys = linuxSys()): ConsoleSocket {
    return new ConsoleSocket(path, sys.listenUnix(path), sys);
  }

  /**
   * Wait for one connection and return the pty master it carries (owned by the caller). The
   * promise comes marked as handled: close() before a sender came rejects it, and a caller that
   * gave up on it (its create failed) does not await it; unhandled, that rejection would end the
   * process (Node's default).
   */
  receive(): Promise<{ master: number; name: string }> {
    const p = this.receiveOne();
    p.catch(() => undefined);
    return p;
  }

  private async receiveOne(): Promise<{ master: number; name: string }> {
    this.accepting = true;
    let conn: number;
    try {
      conn = await this.sys.acceptAsync(this.fd);
    } finally {
      this.accepting = false;
    }
    try {
      const { fd, payload } = await this.sys.recvFdAsync(conn);
      return { master: fd, name: payload };
    } finally {
      this.sys.close(conn);
    }
  }

  close(): void {
    // Closing the fd does not wake a thread blocked in accept(), and Node waits for its worker
    // threads on exit: a `run` whose container never sent a terminal hung there. Connect once so
    // the accept returns; the pending receive() then sees EOF and rejects.
    if (this.accepting) {
      try {
        this.sys.close(this.sys.connectUnix(this.path));
      } catch {
        // nobody is listening any more: nothing to wake
      }
    }
    try {
      this.sys.close(this.fd);
    } finally {
      fs.rmSync(this.path, { force: true });
    }
  }
}
