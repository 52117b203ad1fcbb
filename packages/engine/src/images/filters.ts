/**
 * Docker's `filters` query parameter: JSON of {"name": {"value": true}} (or the older
 * {"name": ["value"]}), with unknown names and malformed values refused as Docker does (400).
 */
import { badRequest } from '../http/errors';

export type Filters = Map<string, string[]>;

export function parseFilters(raw: string | null, allowed: readonly string[]): Filters {
  const out: Filters = new Map();
  if (!raw) return out;
  let doc: unknown;
  try {
    doc = JSON.parse(raw);
  } catch (e) {
    throw badRequest(`invalid filter: ${(e as Error).message}`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw badRequest('invalid filter: must be a JSON object');
  for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
    let values: string[];
    if (Array.isArray(v)) values = v.map(String);
    else if (v && typeof v === 'object') values = Object.entries(v as Record<string, unknown>).filter(([, on]) => on === true).map(([x]) => x);
    else throw badRequest(`invalid filter '${k}'`);
    if (!allowed.includes(k)) throw badRequest(`invalid filter '${k}'`);
    out.set(k, values);
  }
  return out;
}

/** The dangling filter's value (undefined when absent); "true"/"1" and "false"/"0". */
export function danglingFilter(f: Filters): boolean | undefined {
  const v = f.get('dangling');
  if (!v || v.length === 0) return undefined;
  const set = new Set(v.map((x) => x.toLowerCase()));
  for (const x of set) if (!['true', '1', 'false', '0'].includes(x)) throw badRequest(`invalid filter 'dangling=${x}'`);
  if (set.size > 1 && (set.has('true') || set.has('1')) && (set.has('false') || set.has('0'))) throw badRequest(`invalid filter 'dangling': both true and false`);
  return set.has('true') || set.has('1');
}

/** label=key, label=key=value (and label!= for prune) against an image's labels. */
export function labelsMatch(f: Filters, labels: Record<string, string> | null | undefined): boolean {
  const l = labels ?? {};
  const test = (expr: string): boolean => {
    const eq = expr.indexOf('=');
    if (eq < 0) return Object.prototype.hasOwnProperty.call(l, expr);
    const k = expr.slice(0, eq);
    return Object.prototype.hasOwnProperty.call(l, k) && l[k] === expr.slice(eq + 1);
  };
  for (const expr of f.get('label') ?? []) if (!test(expr)) return false;
  for (const expr of f.get('label!') ?? []) if (test(expr)) return false;
  return true;
}

/** A shell-style pattern (`*`, `?`, `[...]`; `*` does not cross "/") as path.Match reads it. */
export function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) throw badRequest(`invalid filter 'reference=${pattern}': syntax error in pattern`);
      let body = pattern.slice(i + 1, end);
      if (body.startsWith('^')) body = `^${body.slice(1)}`;
      re += `[${body.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else if (c === '\\' && i + 1 < pattern.length) re += `\\${pattern[++i]}`;
    else re += c.replace(/[.+^${}()|\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Docker's time filters: RFC 3339 dates, unix seconds (with fraction) or durations ago ("10m", "24h"). */
export function parseTimeFilter(value: string, name: string): number {
  const dur = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)$/.exec(value);
  if (dur) {
    const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
    return Date.now() - Number(dur[1]) * unit[dur[2]!]!;
  }
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const t = Date.parse(value);
  if (Number.isFinite(t)) return t;
  throw badRequest(`invalid filter '${name}=${value}': cannot parse as a time`);
}
