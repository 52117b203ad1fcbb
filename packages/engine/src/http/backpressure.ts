import type { Writable } from 'node:stream';

/**
 * Resolves when `w` can take more (drain) or will never take more (close, error): a response
 * stream waits here after write() returned false, so a client that stops reading holds the
 * producer back instead of growing gantryd's buffers, and one that goes away does not leave the
 * producer waiting forever.
 */
export function drainedOrGone(w: Writable): Promise<void> {
  if (w.destroyed || w.writableEnded) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      w.off('drain', done);
      w.off('close', done);
      w.off('error', done);
      resolve();
    };
    w.on('drain', done);
    w.on('close', done);
    w.on('error', done);
  });
}

/**
 * Bytes a stream of events may have queued for a client that does not read. Beyond it further
 * events for that client are dropped (dockerd's event publisher drops for a subscriber whose
 * buffer stays full), so a stuck `docker events` cannot grow the daemon's memory.
 */
export const EVENT_BACKLOG_LIMIT = 1 << 20;
