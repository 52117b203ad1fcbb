/** Nanosecond wall-clock timestamps and their RFC 3339 forms, as Docker's logs carry them. */

const NS_PER_MS = 1_000_000n;
const NS_PER_S = 1_000_000_000n;

let anchor = BigInt(Date.now()) * NS_PER_MS - process.hrtime.bigint();

/** Wall-clock time in ns since the epoch: Date.now() for the clock, hrtime for sub-ms precision. */
export function nowNs(): bigint {
  let t = anchor + process.hrtime.bigint();
  const wall = BigInt(Date.now()) * NS_PER_MS;
  // the wall clock was stepped: re-anchor (keeps the finer digits otherwise)
  if (t - wall > 10n * NS_PER_MS || wall - t > 10n * NS_PER_MS) {
    anchor = wall - process.hrtime.bigint();
    t = wall;
  }
  return t;
}

export function dateToNs(d: Date): bigint {
  return BigInt(d.getTime()) * NS_PER_MS;
}

export function nsToDate(ns: bigint): Date {
  return new Date(Number(ns / NS_PER_MS));
}

/**
 * RFC 3339 in UTC with nanoseconds. `fixed`: always 9 fraction digits (what `docker logs -t`
 * shows); otherwise trailing zeros are trimmed and a zero fraction dropped (the log file's form).
 */
export function formatRfc3339Nano(ns: bigint, fixed = false): string {
  let s = ns / NS_PER_S;
  let frac = ns % NS_PER_S;
  if (frac < 0n) {
    frac += NS_PER_S;
    s -= 1n;
  }
  const base = new Date(Number(s) * 1000).toISOString().slice(0, 19);
  let f = frac.toString().padStart(9, '0');
  if (!fixed) f = f.replace(/0+$/, '');
  return `${base}${f ? `.${f}` : ''}Z`;
}

const RFC3339 = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/i;

/** Parse an RFC 3339 timestamp (any offset, up to ns) into ns since the epoch; undefined if malformed. */
export function parseRfc3339Nano(s: string): bigint | undefined {
  const m = RFC3339.exec(s);
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}${m[3]!.toUpperCase()}`);
  if (Number.isNaN(ms)) return undefined;
  return BigInt(ms) * NS_PER_MS + BigInt((m[2] ?? '').padEnd(9, '0') || '0');
}
