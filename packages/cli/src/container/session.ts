/**
 * One attached session (run, start -a, attach, exec): the container's output to our stdout and
 * stderr, our stdin to it (through the detach-key detector on a TTY), the terminal raw while it
 * lasts, resizes forwarded, signals proxied when there is no TTY. Resolves how it ended; the
 * terminal is restored before it does.
 */
import type { HijackedStream } from '@gantry/client';
import type { CliContext } from '../context';
import { DetachKeyDetector, parseDetachKeys, DEFAULT_DETACH_KEYS } from './detach-keys';
import { makeRaw, terminalSize, type InputStream } from './terminal';

export interface SessionOptions {
  stream: HijackedStream;
  /** Forward this to the container's stdin (absent: no stdin). */
  stdin?: InputStream;
  tty: boolean;
  detachKeys?: string;
  /** Resize the container's (or exec's) TTY. */
  resize?: (size: { h: number; w: number }) => Promise<unknown>;
  /** Send a signal the CLI received on to the container (no TTY, --sig-proxy). */
  proxySignal?: (name: NodeJS.Signals) => Promise<unknown>;
}

export type SessionEnd = 'ended' | 'detached';

/** Signals docker's CLI proxies (those Node can catch and that are not job control or resizes). */
const PROXIED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGALRM'];
/** With a TTY nothing is proxied: these end the CLI, after the terminal is restored. */
const ENDING: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP', 'SIGQUIT'];
const SIGNAL_NUMBERS: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGTERM: 15 };

export function runSession(ctx: CliContext, o: SessionOptions): Promise<SessionEnd> {
  const { socket } = o.stream;
  const detector = o.tty && o.stdin !== undefined ? new DetachKeyDetector(parseDetachKeys(o.detachKeys ?? DEFAULT_DETACH_KEYS)) : undefined;
  const cleanups: (() => void)[] = [];
  let done = false;

  return new Promise<SessionEnd>((resolve) => {
    const finish = (how: SessionEnd): void => {
      if (done) return;
      done = true;
      for (const c of cleanups.reverse()) c();
      if (how === 'detached') socket.destroy();
      resolve(how);
    };

    if (o.stdin !== undefined) {
      const stdin = o.stdin;
      if (o.tty) cleanups.push(makeRaw(stdin));
      const onData = (chunk: Buffer | string): void => {
        const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        const r = detector === undefined ? { forward: buf, detached: false } : detector.feed(buf);
        if (r.forward.length > 0 && !socket.destroyed) socket.write(r.forward);
        if (r.detached) finish('detached');
      };
      // stdin's end closes the container's stdin; the output keeps coming until the process ends
      const onEnd = (): void => {
        if (!socket.destroyed) socket.end();
      };
      stdin.on('data', onData);
      stdin.on('end', onEnd);
      stdin.resume();
      cleanups.push(() => {
        stdin.off('data', onData);
        stdin.off('end', onEnd);
        stdin.pause();
      });
    }

    if (o.tty && o.resize !== undefined) {
      const out = ctx.stdout as unknown as NodeJS.EventEmitter;
      const resize = (): void => {
        const size = terminalSize(ctx.stdout);
        if (size !== undefined) o.resize?.(size).catch(() => undefined);
      };
      resize();
      if (typeof out.on === 'function') {
        out.on('resize', resize);
        cleanups.push(() => out.off('resize', resize));
      }
    }

    const handlers: [NodeJS.Signals, () => void][] = [];
    if (!o.tty && o.proxySignal !== undefined) {
      for (const s of PROXIED) handlers.push([s, () => void o.proxySignal?.(s).catch(() => undefined)]);
    } else if (o.tty) {
      for (const s of ENDING) {
        handlers.push([
          s,
          () => {
            finish('detached');
            process.exit(128 + (SIGNAL_NUMBERS[s] ?? 0));
          },
        ]);
      }
    }
    for (const [s, h] of handlers) process.on(s, h);
    cleanups.push(() => {
      for (const [s, h] of handlers) process.off(s, h);
    });

    // the output ends when the process does, or when the daemon goes away (the connection closes)
    void (async () => {
      try {
        for await (const f of o.stream.output) (f.stream === 'stderr' ? ctx.stderr : ctx.stdout).write(f.data);
      } catch {
        // a cut connection: the session is over either way
      }
      finish('ended');
    })();
  });
}
