/**
 * gantryd's side of a container's (or exec's) stdio: the FIFOs it creates and hands to
 * gantry-containerd, which the shim opens and keeps open across gantryd restarts.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { linuxSys, S_IF, type Sys } from '@gantry/linux';
import type { JsonFileWriter, LogStream } from '../logs/json-file';

/** FIFO paths as containerd takes them: '' for a stream the process does not have. */
export interface StdioFifos {
  stdin: string;
  stdout: string;
  stderr: string;
}

export interface StdioWanted {
  stdin: boolean;
  stdout: boolean;
  /** False with a terminal: its output all comes on stdout. */
  stderr: boolean;
}

/** `<dir>/<processId>-stdin` etc. (processId: "init" for the container, the exec id for an exec). */
export function fifoPaths(dir: string, processId: string, want: StdioWanted): StdioFifos {
  const p = (s: string, on: boolean): string => (on ? path.join(dir, `${processId}-${s}`) : '');
  return { stdin: p('stdin', want.stdin), stdout: p('stdout', want.stdout), stderr: p('stderr', want.stderr) };
}

/** Make the FIFOs (mode 0600 in a 0700 dir); an existing FIFO is reused, anything else there is an error. */
export function createFifos(dir: string, processId: string, want: StdioWanted, sys: Sys = linuxSys()): StdioFifos {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const fifos = fifoPaths(dir, processId, want);
  for (const p of [fifos.stdin, fifos.stdout, fifos.stderr]) {
    if (!p) continue;
    const st = fs.lstatSync(p, { throwIfNoEntry: false });
    if (st?.isFIFO()) continue;
    if (st) throw new Error(`${p} exists and is not a FIFO`);
    sys.mknod(p, S_IF.FIFO | 0o600, 0, 0);
  }
  return fifos;
}

export function removeFifos(fifos: StdioFifos): void {
  for (const p of [fifos.stdin, fifos.stdout, fifos.stderr]) if (p) fs.rmSync(p, { force: true });
}

/** Open a FIFO without blocking on its other side: O_RDWR|O_NONBLOCK (we count as both ends). */
function openFifoFd(p: string): number {
  return fs.openSync(p, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
}

/** A FIFO as a socket the event loop drives (as the shim does with its ends). */
function openFifo(p: string, dir: 'read' | 'write'): net.Socket {
  return new net.Socket({ fd: openFifoFd(p), readable: dir === 'read', writable: dir === 'write' });
}

export interface OutputChunk {
  stream: LogStream;
  data: Buffer;
}

/** Return false when the chunk could not be passed on at once; call `resume()` when it could. */
export type OutputListener = (chunk: OutputChunk) => boolean | void;

export interface Subscription {
  unsubscribe(): void;
  /** The listener caught up after returning false. */
  resume(): void;
}

export interface ContainerIOOptions {
  /** The process has a terminal (only stdout carries output). */
  terminal: boolean;
  /** Where output is logged (json-file); none for exec or log driver "none". Flushed, not closed, at the end. */
  log?: JsonFileWriter;
  /**
   * The shim already holds its ends (live-restore after a gantryd restart): end of output is
   * the FIFO's EOF from the start. Otherwise call `ready()` once the task exists.
   */
  shimHasEnds?: boolean;
  /** A log write failed (disk full…): output still reaches attached clients. */
  onLogError?: (e: Error) => void;
}

/**
 * Reads a process's stdout/stderr FIFOs into its log and out to attached clients, and writes
 * attached clients' input to its stdin FIFO.
 *
 * The output FIFOs are read through O_RDONLY fds, so the end of output is their EOF: when the
 * shim closes its ends (task deleted, or the shim died). Until the shim has opened them, a
 * keep-alive O_RDWR fd stands in for its writer (a FIFO without writers reads as EOF at once);
 * `ready()` drops it.
 */
export class ContainerIO {
  readonly ended: Promise<void>;
  private readonly readers: net.Socket[] = [];
  private keepAlive: number[] = [];
  private stdin: net.Socket | undefined;
  private stdinClosed: Promise<void> | undefined;
  private readonly listeners = new Set<OutputListener>();
  private readonly blocked = new Set<OutputListener>();
  private open = 0;
  private done = false;
  private resolveEnded!: () => void;
  /** Resolves once the shim holds its ends (see `ready()`). */
  private readonly shimReady: Promise<void>;
  private resolveShimReady!: () => void;

  private constructor(
    readonly fifos: StdioFifos,
    private readonly opts: ContainerIOOptions,
  ) {
    this.ended = new Promise((r) => (this.resolveEnded = r));
    this.shimReady = new Promise((r) => (this.resolveShimReady = r));
    if (opts.shimHasEnds) this.resolveShimReady();
  }

  /** Open a process's FIFOs (made by createFifos, or left from before a gantryd restart). */
  static open(fifos: StdioFifos, opts: ContainerIOOptions): ContainerIO {
    const io = new ContainerIO(fifos, opts);
    try {
      const outputs: [LogStream, string][] = [['stdout', fifos.stdout]];
      if (!opts.terminal) outputs.push(['stderr', fifos.stderr]);
      for (const [stream, p] of outputs) {
        if (!p) continue;
        const fd = fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
        const sock = new net.Socket({ fd, readable: true, writable: false });
        io.readers.push(sock);
        if (!opts.shimHasEnds) io.keepAlive.push(openFifoFd(p));
        io.wire(stream, sock);
      }
      if (fifos.stdin) {
        io.stdin = openFifo(fifos.stdin, 'write');
        io.stdin.on('error', () => undefined); // the shim went away: input is dropped
      }
    } catch (e) {
      io.destroy();
      throw e;
    }
    // nothing to read: ended from the start (unless there is stdin, then close() ends it)
    if (io.open === 0 && !io.stdin) io.finish();
    return io;
  }

  /** The shim has opened its ends (task created): from now on EOF means the output ended. */
  ready(): void {
    for (const fd of this.keepAlive.splice(0)) fs.closeSync(fd);
    this.resolveShimReady();
  }

  get isEnded(): boolean {
    return this.done;
  }

  get hasStdin(): boolean {
    return this.stdin !== undefined && !this.stdin.destroyed && this.stdinClosed === undefined;
  }

  /** Live output from now on; nothing after the end. */
  subscribe(fn: OutputListener): Subscription {
    this.listeners.add(fn);
    return { unsubscribe: () => this.unsubscribe(fn), resume: () => this.unblock(fn) };
  }

  unsubscribe(fn: OutputListener): void {
    this.listeners.delete(fn);
    this.unblock(fn);
  }

  /** Write to the process's stdin; false: wait for `stdinDrained()` before writing more. Dropped when there is no stdin. */
  writeStdin(data: Buffer): boolean {
    if (!this.hasStdin) return true;
    return this.stdin!.write(data);
  }

  stdinDrained(): Promise<void> {
    const s = this.stdin;
    if (!s || !s.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        s.off('drain', done);
        s.off('close', done);
        resolve();
      };
      s.once('drain', done);
      s.once('close', done);
    });
  }

  /**
   * Stop writing stdin: pending input is flushed and our end closed. The shim holds the FIFO open
   * itself, so the process sees EOF only through the task's CloseIO (the caller's next step).
   *
   * Waits until the shim has opened the FIFO: a client attached before start (`docker run -i`)
   * may send all its input and close before the task exists, and a FIFO whose last fd closes
   * drops what it buffers (and a CloseIO before the task exists would be lost too).
   */
  closeStdin(): Promise<void> {
    if (!this.stdin) return Promise.resolve();
    if (!this.stdinClosed) {
      const s = this.stdin;
      this.stdinClosed = this.shimReady.then(
        () =>
          new Promise<void>((resolve) => {
            if (s.destroyed) return resolve();
            s.once('close', () => resolve());
            s.end(() => s.destroy());
          }),
      );
    }
    return this.stdinClosed;
  }

  /**
   * End reading: drop the keep-alive, give the shim `timeoutMs` to close its ends (EOF after the
   * last output), then stop regardless. Resolves once the log has the last output.
   */
  async close(timeoutMs = 2000): Promise<void> {
    this.ready();
    if (!this.done) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.ended, new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
      clearTimeout(timer);
    }
    this.destroy();
    await this.ended;
  }

  /** Close everything now. */
  destroy(): void {
    this.ready();
    for (const r of this.readers) r.destroy();
    this.stdin?.destroy();
    this.finish();
  }

  private wire(stream: LogStream, sock: net.Socket): void {
    this.open++;
    let closed = false;
    const end = (): void => {
      if (closed) return;
      closed = true;
      this.logged(() => this.opts.log?.flush(stream));
      if (--this.open === 0) this.finish();
    };
    sock.on('data', (data: Buffer) => {
      this.logged(() => this.opts.log?.write(stream, data));
      const chunk: OutputChunk = { stream, data };
      for (const fn of [...this.listeners]) {
        let ok: boolean | void;
        try {
          ok = fn(chunk);
        } catch {
          ok = true; // a broken listener must not stop the container's output
        }
        if (ok === false && this.listeners.has(fn)) this.block(fn);
      }
    });
    sock.on('end', end);
    sock.on('close', end);
    sock.on('error', () => undefined); // 'close' follows
  }

  private logged(f: () => void): void {
    try {
      f();
    } catch (e) {
      this.opts.onLogError?.(e as Error);
    }
  }

  // a slow listener holds the output back (the container blocks on a full pipe), as Docker's attach does
  private block(fn: OutputListener): void {
    this.blocked.add(fn);
    for (const r of this.readers) r.pause();
  }

  private unblock(fn: OutputListener): void {
    if (!this.blocked.delete(fn) || this.blocked.size > 0) return;
    for (const r of this.readers) if (!r.destroyed) r.resume();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    // the process is gone with its output: its stdin is of no use
    this.stdin?.destroy();
    this.logged(() => this.opts.log?.flush());
    this.listeners.clear();
    this.blocked.clear();
    this.resolveEnded();
  }
}
