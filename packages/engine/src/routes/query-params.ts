/**
 * Checks on query parameters that Docker makes before it looks at the container, so bad input is
 * a 400 whatever state the container is in.
 */
import { errdefs } from '@gantry/linux';
import { signalNumber } from '../containers/kill';

/** `?t=` / `?timeout=` of stop and restart: an integer number of seconds (negative: wait forever). */
export function stopTimeout(q: URLSearchParams): number | undefined {
  const t = q.get('t') ?? q.get('timeout');
  if (t === null || t === '') return undefined;
  if (!/^[+-]?\d+$/.test(t)) throw errdefs.invalidArgument(`invalid value for t: strconv.Atoi: parsing "${t}": invalid syntax`);
  // Go's int is 64 bits: past that Atoi fails, where Number() would round or give Infinity
  const n = BigInt(t);
  if (n < -(2n ** 63n) || n >= 2n ** 63n) throw errdefs.invalidArgument(`invalid value for t: strconv.Atoi: parsing "${t}": value out of range`);
  return Number(n);
}

/** `?signal=`: a name (KILL, SIGKILL) or number the kernel knows; undefined when absent. */
export function signalParam(q: URLSearchParams): string | undefined {
  const s = q.get('signal');
  if (s === null || s === '') return undefined;
  if (signalNumber(s) === undefined) throw errdefs.invalidArgument(`Invalid signal: ${s}`);
  return s;
}
