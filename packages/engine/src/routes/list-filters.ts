import { errdefs } from '@gantry/linux';
/**
 * Docker's `filters` query parameter for the list and prune routes of containers, networks,
 * volumes and events: JSON of {"name": ["value"]} or the older {"name": {"value": true}} (moby's
 * filters.Args keeps the keys of the inner map), and label expressions matched against a label map.
 */

export function parseFilters(q: URLSearchParams): Record<string, string[]> {
  const raw = q.get('filters');
  if (!raw) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw errdefs.invalidArgument('invalid filter: filters must be JSON');
  }
  // no prototype: a "__proto__" filter is a key like any other (refused as unknown), not a prototype
  const out = Object.create(null) as Record<string, string[]>;
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw errdefs.invalidArgument('invalid filter: filters must be an object');
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
    out[k] = Array.isArray(v) ? v.map(String) : v && typeof v === 'object' ? Object.keys(v) : [String(v)];
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
