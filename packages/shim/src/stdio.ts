import * as fs from 'node:fs';
import * as net from 'node:net';
import * as tty from 'node:tty';
import { linuxSys, type Sys } from '@gantry/linux';
import type { StdioFds } from '@gantry/runtime';

/** Where a process's stdio goes, as the client names it (FIFO paths, or empty for none). */
export interface StdioPaths {
  stdin: string;
  stdout: string;
  stderr: string;
  terminal: boolean;
}

function openFifo(path: string): number {
  // O_RDWR: opening never blocks waiting for the other side, and the shim keeps the FIFO usable
  // across clients coming and going (ctr attaches and detaches).
  return fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
}

/** Everything a non-blocking fd has to read right now. */
function drainNonBlocking(fd: number): Buffer[] {
  const out: Buffer[] = [];
  for (;;) {
    const buf = Buffer.allocUnsafe(65536);
    let n: number;
    try {
      n = fs.readSync(fd, buf, 0, buf.length, null);
    } catch {
      break; // EAGAIN: the FIFO is empty
    }
    if (n <= 0) break;
    out.push(buf.subarray(0, n));
  }
  return out;
}

/**
 * The shim's side of one process's stdio: pipes to the container process, copied to and from the
 * client's FIFOs by the event loop, so the container never writes to a FIFO whose reader is gone
 * and the shim owns the streams for as long as the container lives.
 */
export class ProcessStdio {
  /** fds for the container process (closed here once it has them). */
  readonly childFds: StdioFds;
  private readonly closers: (() => void)[] = [];
  private readonly drained: Promise<void>[] = [];
  private stdinWriter: net.Socket | fs.WriteStream | undefined;
  /** Our O_RDWR end of the client's stdin FIFO and its reader (it never reads EOF: we are a writer too). */
  private stdinFifo: { fd: number; reader: net.Socket } | undefined;
  private master: number | undefined;

  private constructor(
    private readonly sys: Sys,
    readonly paths: StdioPaths,
  ) {
    this.childFds = ['ignore', 'ignore', 'ignore'];
  }

  /** Pipes for a process without a terminal. */
  static pipes(paths: StdioPaths, sys: Sys = linuxSys()): ProcessStdio {
    const io = new ProcessStdio(sys, paths);
    if (paths.stdin) {
      const [r, w] = sys.pipe();
      io.childFds[0] = r;
      const fd = openFifo(paths.stdin);
      const fifo = new net.Socket({ fd, readable: true, writable: false });
      const toChild = new net.Socket({ fd: w, readable: false, writable: true });
      toChild.on('error', () => undefined); // the process closed its stdin: input is dropped
      fifo.pipe(toChild);
      io.stdinWriter = toChild;
      io.stdinFifo = { fd, reader: fifo };
      io.closers.push(
        () => fifo.destroy(),
        () => toChild.destroy(),
      );
    }
    for (const [index, p] of [
      [1, paths.stdout],
      [2, paths.stderr],
    ] as const) {
      if (!p) continue;
      const [r, w] = sys.pipe();
      io.childFds[index] = w;
      const fromChild = new net.Socket({ fd: r, readable: true, writable: false });
      const fifo = new net.Socket({ fd: openFifo(p), readable: false, writable: true });
      fifo.on('error', () => undefined);
      fromChild.pipe(fifo);
      io.drained.push(new Promise((resolve) => fromChild.once('close', () => resolve())));
      io.closers.push(
        () => fromChild.destroy(),
        () => fifo.destroy(),
      );
    }
    return io;
  }

  /** For a terminal: the pty master arrives later through the console socket. */
  static terminal(paths: StdioPaths, sys: Sys = linuxSys()): ProcessStdio {
    return new ProcessStdio(sys, paths);
  }

  /** Wire a received pty master to the FIFOs (stdout and stderr are the same stream on a tty). */
  attachMaster(master: number): void {
    this.master = master;
    const reader = new tty.ReadStream(master);
    const writer = fs.createWriteStream('', { fd: master, autoClose: false });
    reader.on('error', () => undefined);
    writer.on('error', () => undefined);
    if (this.paths.stdout) {
      const out = new net.Socket({ fd: openFifo(this.paths.stdout), readable: false, writable: true });
      out.on('error', () => undefined);
      reader.pipe(out);
      this.closers.push(() => out.destroy());
    } else reader.resume();
    this.drained.push(new Promise((resolve) => reader.once('close', () => resolve())));
    if (this.paths.stdin) {
      const fd = openFifo(this.paths.stdin);
      const inp = new net.Socket({ fd, readable: true, writable: false });
      inp.pipe(writer);
      this.stdinFifo = { fd, reader: inp };
      this.closers.push(() => inp.destroy());
    }
    this.stdinWriter = writer;
    this.closers.push(
      () => reader.destroy(),
      () => writer.destroy(),
    );
  }

  resize(width: number, height: number): void {
    if (this.master === undefined) throw new Error('process has no terminal');
    this.sys.setWinsize(this.master, height, width);
  }

  /**
   * The client closed its stdin: the container reads EOF after everything the client wrote. The
   * client flushed its input into the FIFO before asking, but we may not have read all of it yet
   * (our reader is asynchronous and may be paused by a slow process): stop the reader, pass on
   * what it holds and what is left in the FIFO, then end the pipe. A terminal stays open (EOF on
   * a tty is the client's ^D).
   */
  closeStdin(): void {
    const writer = this.stdinWriter;
    const src = this.stdinFifo;
    if (!(writer instanceof net.Socket)) return;
    if (src && !src.reader.destroyed) {
      src.reader.unpipe(writer);
      src.reader.pause();
      for (let c = src.reader.read() as Buffer | null; c !== null; c = src.reader.read() as Buffer | null) writer.write(c);
      for (const c of drainNonBlocking(src.fd)) writer.write(c);
      src.reader.destroy();
    }
    writer.end();
  }

  /** Close our copies of the fds the container process now holds. */
  releaseChildFds(): void {
    for (const fd of this.childFds) if (typeof fd === 'number') this.sys.close(fd);
  }

  /** Output copied to the FIFOs up to the end, or `timeoutMs` passed (a daemonised grandchild may hold the pipe). */
  async drain(timeoutMs = 2000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(this.drained), new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
    if (timer) clearTimeout(timer);
  }

  close(): void {
    for (const c of this.closers.splice(0)) {
      try {
        c();
      } catch {
        // already closed
      }
    }
  }
}
