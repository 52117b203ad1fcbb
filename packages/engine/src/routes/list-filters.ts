import { errdefs } from '@gantry/linux';
/**
 * Docker's `filters` query parameter, for every list and prune route: JSON of
 * {"name": {"value": true}} (moby's filters.Args, whose Get returns the inner map's keys) or the
 * older {"name": ["value"]}. Anything else is a 400, and so is a name outside `allowed` when the
 * route gives its list. The result has no prototype: "__proto__" is a name like any other.
 */

export type Filters = Record<string, string[]>;

export function parseFilters(q: URLSearchParams | string | null, allowed?: Iterable<string>): Filters {
  const names = allowed === undefined ? undefined : new Set(allowed);
  const raw = q instanceof URLSearchParams ? q.get('filters') : q;
  const out = Object.create(null) as Filters;
  if (!raw) return out;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (e) {
    throw errdefs.invalidArgument(`invalid filter: ${(e as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw errdefs.invalidArgument('invalid filter: filters must be a JSON object');
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
    if (Array.isArray(v)) out[k] = v.map(String);
    else if (v !== null && typeof v === 'object') out[k] = Object.keys(v);
    else throw errdefs.invalidArgument(`invalid filter '${k}'`);
    if (names && !names.has(k)) throw errdefs.invalidArgument(`invalid filter '${k}'`);
  }
  return out;
}

/**
 * `label=key` (the label is set) or `label=key=value` against a label map. Own keys only: with
 * `key in labels`, `label=constructor` matched every object through its prototype.
 */
export function matchLabel(labels: Readonly<Record<string, string>> | null | undefined, expr: string): boolean {
  const l = labels ?? {};
  const eq = expr.indexOf('=');
  const key = eq < 0 ? expr : expr.slice(0, eq);
  if (!Object.prototype.hasOwnProperty.call(l, key)) return false;
  return eq < 0 || l[key] === expr.slice(eq + 1);
}
