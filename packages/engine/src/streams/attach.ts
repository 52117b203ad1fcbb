/**
 * Serving a hijacked connection for `POST /containers/{id}/attach` and `POST /exec/{id}/start`:
 * the process's output to the client (raw with a terminal, stdcopy-framed without), the client's
 * input to its stdin, Docker's detach keys.
 */
import type { Duplex } from 'node:stream';
import type { ContainerIO, OutputChunk } from './fifo-stdio';
import { frame, StdStream } from './stdcopy';
import { drainedOrGone } from '../http/backpressure';

/** Docker's default detach sequence: ctrl-p, ctrl-q. */
export const DEFAULT_DETACH_KEYS = Buffer.from([0x10, 0x11]);

export class DetachKeysError extends Error {}

/**
 * "ctrl-p,ctrl-q" or "a,ctrl-x" -> bytes. Each key is one character (taken as is) or "ctrl-"
 * with a letter (ctrl-a = 1 … ctrl-z = 26) or one of @ [ \ ] ^ _ (0, 27 … 31).
 */
export function parseDetachKeys(spec: string): Buffer {
  const out: number[] = [];
  for (const key of spec.split(',')) {
    if (key.length === 1) {
      const c = key.charCodeAt(0);
      if (c > 0x7f) throw new DetachKeysError(`Unknown character: '${key}'`);
      out.push(c);
      continue;
    }
    const m = /^ctrl-(.)$/i.exec(key);
    if (!m) throw new DetachKeysError(`Unknown character: '${key}'`);
    const k = m[1]!.toLowerCase();
    if (k >= 'a' && k <= 'z') out.push(k.charCodeAt(0) - 0x60);
    else {
      const i = '@[\\]^_'.indexOf(k);
      if (i < 0) throw new DetachKeysError(`Unknown character: '${key}'`);
      out.push(i === 0 ? 0 : 26 + i);
    }
  }
  if (out.length === 0) throw new DetachKeysError('no detach keys');
  return Buffer.from(out);
}

/**
 * Finds the detach sequence in input that arrives in arbitrary chunks: bytes that could start it
 * are held back until it is either complete (detach: they and anything after are dropped) or
 * broken (they are passed on).
 */
export class DetachKeyDetector {
  private held: number[] = [];

  constructor(private readonly keys: Buffer) {}

  push(chunk: Buffer): { forward: Buffer; detached: boolean } {
    const out: number[] = [];
    for (const b of chunk) {
      const cand = [...this.held, b];
      // drop leading bytes until what is held is a prefix of the sequence again
      while (cand.length > 0 && !this.isPrefix(cand)) out.push(cand.shift()!);
      if (cand.length === this.keys.length) {
        this.held = [];
        return { forward: Buffer.from(out), detached: true };
      }
      this.held = cand;
    }
    return { forward: Buffer.from(out), detached: false };
  }

  /** Input ended: the held bytes were not a detach after all. */
  flush(): Buffer {
    const b = Buffer.from(this.held);
    this.held = [];
    return b;
  }

  private isPrefix(bytes: number[]): boolean {
    return bytes.length <= this.keys.length && bytes.every((b, i) => this.keys[i] === b);
  }
}

/** Live output held while the log replay is sent, at most (then the container's output waits). */
export const HOLD_LIMIT = 1 << 20;

interface ReplayMessage {
  stream: 'stdout' | 'stderr';
  line: Buffer;
}

export interface AttachOptions {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  /** The process has a terminal: output raw, one stream; detach keys apply. */
  tty: boolean;
  /** Stream live output (attach `stream=1`; always for exec). Without it only `replay` is sent. */
  stream: boolean;
  /** The log to send first (attach `logs=1`). */
  replay?: () => AsyncIterable<ReplayMessage>;
  /** The `detachKeys` query ("ctrl-p,ctrl-q" when absent); already validated by the caller ideally. */
  detachKeys?: string;
  /** Container's StdinOnce: the client closing its input closes the process's stdin. */
  stdinOnce?: boolean;
  /**
   * Called once the process's stdin was closed here: the shim holds its own end of the stdin
   * FIFO, so the caller must also tell containerd (CloseIO) for the process to see EOF.
   */
  onStdinClosed?: () => void | Promise<void>;
  /** Awaited after the output ended, before the connection is closed. */
  beforeEnd?: () => Promise<void>;
  /** Written to the client's stdout last (after beforeEnd), e.g. why an exec could not start. */
  trailer?: () => string | undefined;
}

/**
 * The log replay alone, for a container with no live output (stopped, or not started yet): the
 * messages of the wanted streams, raw with a terminal, stdcopy-framed without.
 */
export async function sendReplay(
  conn: Duplex,
  replay: () => AsyncIterable<ReplayMessage>,
  opts: Pick<AttachOptions, 'tty' | 'stdout' | 'stderr'>,
): Promise<void> {
  try {
    for await (const m of replay()) {
      if (conn.destroyed) return;
      if (!(m.stream === 'stdout' ? opts.stdout : opts.stderr)) continue;
      const data = opts.tty ? m.line : frame(m.stream === 'stdout' ? StdStream.Stdout : StdStream.Stderr, m.line);
      if (!conn.write(data)) await drainedOrGone(conn);
    }
  } catch (e) {
    if (!opts.tty && !conn.destroyed) conn.write(frame(StdStream.SystemErr, `error reading logs: ${(e as Error).message}\n`));
  }
}

export type AttachEnd =
  /** The process's output ended (or, without `stream`, the replay did). */
  | 'ended'
  /** The client typed the detach keys. */
  | 'detached'
  /** The client went away (or closed its input without stdinOnce). */
  | 'closed';

/**
 * Serve one hijacked connection until the output ends, the client detaches or goes away. The
 * process keeps running in every case; the connection is ended here.
 */
export function serveAttach(conn: Duplex, io: ContainerIO, opts: AttachOptions): Promise<AttachEnd> {
  const detector = opts.tty ? new DetachKeyDetector(opts.detachKeys ? parseDetachKeys(opts.detachKeys) : DEFAULT_DETACH_KEYS) : undefined;
  return new Promise<AttachEnd>((resolve) => {
    let finished = false;
    const cleanup: (() => void)[] = [];
    const finish = (how: AttachEnd): void => {
      if (finished) return;
      finished = true;
      for (const c of cleanup.splice(0)) c();
      if (how === 'closed') conn.destroy();
      else conn.end();
      resolve(how);
    };

    const encode = (stream: 'stdout' | 'stderr', data: Buffer): Buffer =>
      opts.tty ? data : frame(stream === 'stdout' ? StdStream.Stdout : StdStream.Stderr, data);
    const wanted = (stream: 'stdout' | 'stderr'): boolean => (stream === 'stdout' ? opts.stdout : opts.stderr);

    // live output: subscribe before replaying so nothing is lost in between (held until the replay
    // is sent; past HOLD_LIMIT the output is held back at the source, as a slow client does)
    let held: OutputChunk[] | undefined = opts.replay ? [] : undefined;
    let heldBytes = 0;
    let blocked = false;
    const sub = opts.stream
      ? io.subscribe((c) => {
          if (!wanted(c.stream) || finished) return;
          if (held) {
            held.push(c);
            heldBytes += c.data.length;
            if (heldBytes < HOLD_LIMIT) return;
            blocked = true;
            return false;
          }
          const ok = conn.write(encode(c.stream, c.data));
          if (!ok) blocked = true;
          return ok;
        })
      : undefined;
    if (sub) {
      const onDrain = (): void => {
        if (blocked) {
          blocked = false;
          sub.resume();
        }
      };
      conn.on('drain', onDrain);
      cleanup.push(
        () => sub.unsubscribe(),
        () => conn.off('drain', onDrain),
      );
    }

    conn.on('error', () => finish('closed'));
    conn.on('close', () => finish('closed'));

    // client input
    if (opts.stdin && io.hasStdin) {
      const onData = (chunk: Buffer): void => {
        if (finished) return;
        let data = chunk;
        let detached = false;
        if (detector) ({ forward: data, detached } = detector.push(chunk));
        if (data.length > 0 && !io.writeStdin(data)) {
          conn.pause();
          void io.stdinDrained().then(() => !finished && conn.resume());
        }
        if (detached) finish('detached');
      };
      const onEnd = (): void => {
        if (finished) return;
        const rest = detector?.flush();
        if (rest && rest.length > 0) io.writeStdin(rest);
        // as Docker: without a terminal and with StdinOnce the process gets EOF and output goes on;
        // otherwise the client closing its input ends the attach
        if (opts.stdinOnce && !opts.tty) void io.closeStdin().then(() => opts.onStdinClosed?.());
        else finish('closed');
      };
      conn.on('data', onData);
      conn.on('end', onEnd);
      cleanup.push(
        () => conn.off('data', onData),
        () => conn.off('end', onEnd),
      );
      // the server may have paused the socket explicitly (it reads an upgrade's body off it first):
      // a 'data' listener alone does not restart such a stream
      conn.resume();
      // the client may have sent its whole input and half-closed before we got here (docker run -i
      // < /dev/null: attached while the container was being created): 'end' was already emitted
      if (conn.readableEnded) queueMicrotask(onEnd);
    } else {
      conn.resume(); // read and drop, so the client's close is seen
    }

    void (async () => {
      if (opts.replay) {
        try {
          for await (const m of opts.replay()) {
            if (finished) return;
            if (!wanted(m.stream)) continue;
            if (!conn.write(encode(m.stream, m.line))) await drainedOrGone(conn);
          }
        } catch (e) {
          if (!opts.tty && !finished) conn.write(frame(StdStream.SystemErr, `error reading logs: ${(e as Error).message}\n`));
        }
        // output that arrives while the held chunks are sent joins them, so the order stays
        while (!finished && held && held.length > 0) {
          const c = held.shift()!;
          heldBytes -= c.data.length;
          if (!conn.write(encode(c.stream, c.data))) await drainedOrGone(conn);
        }
        if (finished) return;
        held = undefined;
        if (blocked && sub) {
          blocked = false;
          sub.resume();
        }
      }
      if (!opts.stream) return finish('ended');
      await io.ended;
      // e.g. an exec's exit code must be known before the client, seeing the end, asks for it
      if (opts.beforeEnd) await opts.beforeEnd();
      const trailer = opts.trailer?.();
      if (trailer && !finished) conn.write(encode('stdout', Buffer.from(trailer)));
      finish('ended');
    })();
  });
}
