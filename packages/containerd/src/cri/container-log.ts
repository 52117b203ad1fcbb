/**
 * A container's output in the CRI log format kubelet reads: one entry per line,
 * `<RFC3339Nano time> <stdout|stderr> <P|F> <text>`, P for a part of a longer line (a line over
 * 16 KiB is cut into parts), F for the part that ends it. The daemon reads the shim's FIFOs.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { linuxSys, S_IF } from '@gantry/linux';
import { nowNs } from './store';

const MAX_LINE = 16 * 1024;

/** `2026-12-03T10:23:03.123456789Z`: nanoseconds, as Go's RFC3339Nano writes them (no trailing zeros). */
export function rfc3339Nano(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  const iso = new Date(ms).toISOString().slice(0, 19);
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return `${iso}${frac ? `.${frac}` : ''}Z`;
}

export type Stream = 'stdout' | 'stderr';

/** The CRI log file of one container; `reopen()` for rotation (ReopenContainerLog). */
export class CriLogFile {
  private fd: number | undefined;
  private readonly partial: Record<Stream, Buffer> = { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) };

  constructor(readonly file: string) {
    this.open();
  }

  private open(): void {
    if (!this.file) return;
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    this.fd = fs.openSync(this.file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o640);
  }

  reopen(): void {
    this.close();
    this.open();
  }

  private entry(stream: Stream, tag: 'P' | 'F', text: Buffer): void {
    if (this.fd === undefined) return;
    const head = Buffer.from(`${rfc3339Nano(BigInt(nowNs()))} ${stream} ${tag} `);
    try {
      fs.writeSync(this.fd, Buffer.concat([head, text, Buffer.from('\n')]));
    } catch {
      // a full disk loses output, not the container
    }
  }

  write(stream: Stream, data: Buffer): void {
    let buf = Buffer.concat([this.partial[stream], data]);
    for (let nl = buf.indexOf(10); nl >= 0; nl = buf.indexOf(10)) {
      this.entry(stream, 'F', buf.subarray(0, nl));
      buf = buf.subarray(nl + 1);
    }
    while (buf.length >= MAX_LINE) {
      this.entry(stream, 'P', buf.subarray(0, MAX_LINE));
      buf = buf.subarray(MAX_LINE);
    }
    this.partial[stream] = Buffer.from(buf);
  }

  /** Output that ended without a newline is written as a last, full entry. */
  flush(): void {
    for (const s of ['stdout', 'stderr'] as const) {
      if (this.partial[s].length) this.entry(s, 'F', this.partial[s]);
      this.partial[s] = Buffer.alloc(0);
    }
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}

export function makeFifo(p: string): void {
  fs.mkdirSync(path.dirname(p), { recursive: true, mode: 0o700 });
  if (fs.lstatSync(p, { throwIfNoEntry: false })?.isFIFO()) return;
  fs.rmSync(p, { force: true });
  linuxSys().mknod(p, S_IF.FIFO | 0o600, 0, 0);
}

/**
 * Reads output FIFOs to their EOF (the shim closed its ends). Until the shim holds its ends a
 * read-write fd keeps a writer present (else the reader sees EOF at once); `shimOpened()` drops it.
 */
export class FifoReader {
  readonly ended: Promise<void>;
  private keepAlive: number[] = [];

  constructor(fifos: { stream: Stream; path: string }[], onData: (stream: Stream, data: Buffer) => void, shimHasEnds: boolean) {
    const done: Promise<void>[] = [];
    for (const f of fifos) {
      if (!shimHasEnds) this.keepAlive.push(fs.openSync(f.path, fs.constants.O_RDWR | fs.constants.O_NONBLOCK));
      const sock = new net.Socket({ fd: fs.openSync(f.path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK), readable: true, writable: false });
      sock.on('data', (c: Buffer) => onData(f.stream, c));
      done.push(
        new Promise<void>((resolve) => {
          sock.on('close', () => resolve());
          sock.on('error', () => resolve());
        }),
      );
    }
    this.ended = Promise.all(done).then(() => undefined);
  }

  shimOpened(): void {
    for (const fd of this.keepAlive) fs.closeSync(fd);
    this.keepAlive = [];
  }
}
