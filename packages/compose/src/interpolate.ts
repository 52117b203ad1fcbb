/**
 * Variable interpolation as the Compose Specification defines it: `$VAR`, `${VAR}`, `${VAR:-d}`,
 * `${VAR-d}`, `${VAR:?err}`, `${VAR?err}`, `${VAR:+alt}`, `${VAR+alt}`, `$$` for a literal `$`;
 * defaults and alternatives are interpolated themselves (`${A:-${B}}`). Applied to every string
 * value of a parsed file (not to keys); an error names the dotted path of the value.
 */
import { ComposeError } from './errors';

export type Lookup = (name: string) => string | undefined;

/** The position of the `}` closing the `${` whose body starts at `from`, nested braces counted. */
function closing(s: string, from: number): number {
  let depth = 1;
  for (let i = from; i < s.length; i++) {
    if (s[i] === '$' && s[i + 1] === '{') {
      depth++;
      i++;
    } else if (s[i] === '}' && --depth === 0) return i;
  }
  return -1;
}

export function interpolateString(s: string, lookup: Lookup, where = ''): string {
  const at = where === '' ? '' : ` in ${where}`;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c !== '$') {
      out += c;
      continue;
    }
    const next = s[i + 1];
    if (next === '$') {
      out += '$';
      i++;
      continue;
    }
    if (next === '{') {
      const end = closing(s, i + 2);
      if (end < 0) throw new ComposeError(`invalid interpolation format${at}: "${s}"`);
      const body = s.slice(i + 2, end);
      out += substitute(body, lookup, where, s);
      i = end;
      continue;
    }
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(s.slice(i + 1));
    if (m) {
      out += lookup(m[0]) ?? '';
      i += m[0].length;
      continue;
    }
    out += c;
  }
  return out;
}

function substitute(body: string, lookup: Lookup, where: string, whole: string): string {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([\s\S]*))?$/.exec(body);
  const at = where === '' ? '' : ` in ${where}`;
  if (!m) throw new ComposeError(`invalid interpolation format${at}: "${whole}"`);
  const name = m[1] ?? '';
  const op = m[2];
  const value = lookup(name);
  if (op === undefined) return value ?? '';
  const arg = () => interpolateString(m[3] ?? '', lookup, where);
  const unsetOrEmpty = value === undefined || value === '';
  switch (op) {
    case ':-':
      return unsetOrEmpty ? arg() : value;
    case '-':
      return value === undefined ? arg() : value;
    case ':+':
      return unsetOrEmpty ? '' : arg();
    case '+':
      return value === undefined ? '' : arg();
    case ':?':
    case '?': {
      if (op === ':?' ? unsetOrEmpty : value === undefined) {
        const msg = arg();
        throw new ComposeError(`required variable ${name} is missing a value${at}${msg === '' ? '' : `: ${msg}`}`);
      }
      return value ?? '';
    }
    default:
      throw new ComposeError(`invalid interpolation format${at}: "${whole}"`);
  }
}

/** Every string in `v` interpolated; `path` names where `v` sits (e.g. `services.web`). */
export function interpolateValue(v: unknown, lookup: Lookup, path: string[] = []): unknown {
  if (typeof v === 'string') return interpolateString(v, lookup, path.join('.'));
  if (Array.isArray(v)) return v.map((x, i) => interpolateValue(x, lookup, [...path.slice(0, -1), `${path.at(-1) ?? ''}[${i}]`]));
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = interpolateValue(x, lookup, [...path, k]);
    return out;
  }
  return v;
}
