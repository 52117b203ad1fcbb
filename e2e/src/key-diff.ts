/**
 * Key-set comparison of two JSON answers (dockerd's and gantryd's for the same object): every key
 * path the reference has that the other lacks. Only structure is compared, not values. Objects
 * whose keys are data (labels, env-like maps, port maps) are compared as values: their paths are
 * given in `dataMaps`. Arrays compare their first elements when both have one.
 */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

function isObject(v: unknown): v is Record<string, JsonValue> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Does `path` (a.b.c, arrays as []) match `pattern` (same, `*` for one segment)? */
export function pathMatches(path: string, pattern: string): boolean {
  const p = path.split('.');
  const q = pattern.split('.');
  return p.length === q.length && q.every((s, i) => s === '*' || s === p[i]);
}

/** Paths in `ref` missing from `got` (as "path" or "path (null here, object there)"). */
export function missingKeys(ref: JsonValue, got: JsonValue, dataMaps: readonly string[] = [], path = ''): string[] {
  if (path && dataMaps.some((d) => pathMatches(path, d))) return [];
  if (isObject(ref)) {
    if (!isObject(got)) return Object.keys(ref).length > 0 ? [`${path || '<root>'} (${got === null ? 'null' : typeof got} here, object in reference)`] : [];
    const out: string[] = [];
    for (const k of Object.keys(ref)) {
      const p = path ? `${path}.${k}` : k;
      if (!(k in got)) out.push(p);
      else out.push(...missingKeys(ref[k]!, got[k]!, dataMaps, p));
    }
    return out;
  }
  if (Array.isArray(ref) && Array.isArray(got) && ref.length > 0 && got.length > 0) return missingKeys(ref[0]!, got[0]!, dataMaps, path ? `${path}.[]` : '[]');
  return [];
}
