import { bounded } from './bounded';

export interface Arrivals {
  /** Settles when the item of `digest` is fetched (rejects with its error, or the first failure when it never started). */
  ready(digest: string): Promise<void>;
  /** Settles when every fetch has; rejects with the first failure. */
  settled: Promise<void>;
}

/**
 * Fetch `items` at most `n` at once (as `bounded`) and tell each one's arrival on its own, so a
 * consumer can take them in its own order (a pull unpacks layer N once layers 0..N are in) while
 * later ones still download. The caller must await `settled`.
 */
export function inOrderOfArrival<T extends { digest: string }>(n: number, items: readonly T[], fetch: (item: T) => Promise<void>): Arrivals {
  const waits = new Map<string, { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void }>();
  for (const item of items) {
    if (waits.has(item.digest)) continue;
    let resolve!: () => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
    promise.catch(() => undefined); // a layer nobody waits for (the consumer stopped first) must not reject unhandled
    waits.set(item.digest, { promise, resolve, reject });
  }
  const settled = bounded(n, items, async (item) => {
    const w = waits.get(item.digest)!;
    try {
      await fetch(item);
      w.resolve();
    } catch (e) {
      w.reject(e);
      throw e;
    }
  });
  // items that never started (bounded starts nothing after a failure) fail with that failure
  settled.catch((e: unknown) => {
    for (const w of waits.values()) w.reject(e);
  });
  return {
    ready: (digest) => waits.get(digest)?.promise ?? Promise.reject(new Error(`${digest} is not being fetched`)),
    settled,
  };
}
