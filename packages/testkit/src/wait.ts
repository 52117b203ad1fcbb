/** Waiting for a condition another process makes true, polled: the timeout is an upper bound, never the thing waited for. */

export interface WaitOptions {
  /** Give up after this long (default 20 s: only a failing test waits that long). */
  timeoutMs?: number;
  /** Poll interval (default 50 ms). */
  stepMs?: number;
}

type Falsy = undefined | null | false | 0 | '';

const options = (o: number | WaitOptions | undefined): Required<WaitOptions> =>
  typeof o === 'number' ? { timeoutMs: o, stepMs: 50 } : { timeoutMs: o?.timeoutMs ?? 20_000, stepMs: o?.stepMs ?? 50 };

/**
 * Resolves with the first truthy value `fn` returns (sync or async); rejects with
 * "timed out waiting for <what>" after the timeout. A number as the third argument is the timeout.
 * A throw from `fn` counts as "not yet" (a /proc file not there yet), and the last one is named
 * in the timeout error.
 */
export async function waitFor<T>(what: string, fn: () => T | Falsy | Promise<T | Falsy>, opts?: number | WaitOptions): Promise<T> {
  const { timeoutMs, stepMs } = options(opts);
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out waiting for ${what}${last === undefined ? '' : `: ${last instanceof Error ? `${last.name}: ${last.message}` : JSON.stringify(last)}`}`,
      );
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/**
 * Resolves with the first value of `get` that `ok` accepts; the timeout error shows the last value
 * seen, which is what a failing test needs to say.
 */
export async function until<T>(what: string, get: () => T | Promise<T>, ok: (v: T) => boolean, opts?: number | WaitOptions): Promise<T> {
  const { timeoutMs, stepMs } = options(opts);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
