/** Helpers for proto map fields held as plain objects, where keys are user data ("constructor", "__proto__"). */

/** A map entry, ignoring inherited properties. */
export function own<V>(m: Readonly<Record<string, V>>, k: string): V | undefined {
  return Object.hasOwn(m, k) ? m[k] : undefined;
}

/** Set a map entry, even for the key "__proto__". */
export function put<V>(m: Record<string, V>, k: string, v: V): void {
  Object.defineProperty(m, k, { value: v, enumerable: true, writable: true, configurable: true });
}
