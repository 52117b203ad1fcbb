/** Go durations ("1m30s", "500ms") and byte sizes ("512m", "1g") as Compose files write them. */
import { ComposeError } from './errors';

const NS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Nanoseconds of a Go duration string (a bare number is seconds, as compose-go reads integers). */
export function parseDuration(v: string | number, where: string): number {
  if (typeof v === 'number') return v * 1e9;
  const s = v.trim();
  if (/^\d+$/.test(s)) return Number(s) * 1e9;
  if (!/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(s)) throw new ComposeError(`${where}: invalid duration "${v}"`);
  let ns = 0;
  for (const m of s.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) ns += Number(m[1]) * (NS[m[2] ?? 's'] ?? 1);
  return Math.round(ns);
}

/** Go's time.Duration.String() for whole units: 90e9 → "1m30s", 5e8 → "500ms". */
export function formatDuration(ns: number): string {
  if (ns === 0) return '0s';
  if (ns < 1e9) {
    if (ns % 1e6 === 0) return `${ns / 1e6}ms`;
    if (ns % 1e3 === 0) return `${ns / 1e3}µs`;
    return `${ns}ns`;
  }
  const h = Math.floor(ns / 3600e9);
  const m = Math.floor((ns % 3600e9) / 60e9);
  const s = (ns % 60e9) / 1e9;
  let out = '';
  if (h > 0) out += `${h}h`;
  if (h > 0 || m > 0) out += `${m}m`;
  return `${out}${Number(s.toFixed(9))}s`;
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, m: 1024 ** 2, mb: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, t: 1024 ** 4, tb: 1024 ** 4 };

/** Bytes of "512m", "1.5g", "1024" (binary units, as docker's RAMInBytes). */
export function parseBytes(v: string | number, where: string): number {
  if (typeof v === 'number') return v;
  const m = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(v.trim());
  const unit = UNITS[(m?.[2] ?? 'x').toLowerCase()];
  if (!m || unit === undefined) throw new ComposeError(`${where}: invalid size "${v}"`);
  return Math.round(Number(m[1]) * unit);
}
