/** docker's value syntaxes for run/create/update flags: sizes ("64m"), Go durations ("1m30s"), CPUs ("1.5"). */
import { InvalidArgumentError } from 'commander';

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** Bytes from docker's RAMInBytes syntax: a number with an optional binary unit (k, m, g, t, p; an optional trailing b). */
export function bytes(v: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)b?$/i.exec(v.trim());
  if (m === null) throw new InvalidArgumentError(`invalid size: '${v}'`);
  return Math.floor(Number(m[1]) * (SIZE_UNITS[(m[2] ?? '').toLowerCase()] ?? 1));
}

/** `--memory-swap`: bytes, or -1 for unlimited. */
export function swapBytes(v: string): number {
  return v.trim() === '-1' ? -1 : bytes(v);
}

const DURATION_UNITS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Nanoseconds from a Go duration ("1m30s", "500ms", "0"). */
export function durationNs(v: string): number {
  if (v === '0') return 0;
  if (!/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(v)) throw new InvalidArgumentError(`time: invalid duration "${v}"`);
  let ns = 0;
  for (const m of v.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) ns += Number(m[1]) * (DURATION_UNITS[m[2] ?? 's'] ?? 1);
  return Math.round(ns);
}

/** `--cpus 1.5` as NanoCpus. */
export function nanoCpus(v: string): number {
  if (!/^\d+(\.\d+)?$/.test(v.trim())) throw new InvalidArgumentError(`failed to parse ${v} as a rational number`);
  return Math.round(Number(v) * 1e9);
}

export function int(v: string): number {
  if (!/^-?\d+$/.test(v.trim())) throw new InvalidArgumentError(`strconv.ParseInt: parsing "${v}": invalid syntax`);
  return Number(v);
}
