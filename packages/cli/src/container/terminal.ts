/**
 * The local terminal during `run -it`/`exec -it`/`attach`: raw mode on, and back to how it was on
 * every way out (the session ends, a detach, a signal to the CLI, the daemon going away, or the
 * process exiting some other way: the 'exit' hook runs synchronously).
 */
import type { ReadStream } from 'node:tty';

export type InputStream = NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: ReadStream['setRawMode']; isRaw?: boolean };

const restorers = new Set<() => void>();
let exitHooked = false;

function restoreAll(): void {
  for (const r of [...restorers]) r();
}

/** Raw mode for a TTY stdin; returns the restore function (idempotent). A non-TTY stdin is left alone. */
export function makeRaw(stdin: InputStream): () => void {
  if (stdin.isTTY !== true || stdin.setRawMode === undefined) return () => undefined;
  const was = stdin.isRaw === true;
  stdin.setRawMode(true);
  const restore = (): void => {
    if (!restorers.delete(restore)) return;
    stdin.setRawMode?.(was);
  };
  restorers.add(restore);
  if (!exitHooked) {
    exitHooked = true;
    process.on('exit', restoreAll);
  }
  return restore;
}

/** The terminal size as the API takes it, or undefined when stdout is not a terminal. */
export function terminalSize(out: unknown): { h: number; w: number } | undefined {
  const o = out as { isTTY?: boolean; rows?: number; columns?: number };
  if (o.isTTY !== true || o.rows === undefined || o.columns === undefined) return undefined;
  return { h: o.rows, w: o.columns };
}
