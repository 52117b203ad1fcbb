/** The image routes' filters: dangling, labels, reference globs (without backtracking) and times. */
import { errdefs } from '@gantry/linux';
import { matchLabel, type Filters } from '../routes/list-filters';

/** The dangling filter's value (undefined when absent); "true"/"1" and "false"/"0". */
export function danglingFilter(f: Filters): boolean | undefined {
  const v = f.dangling;
  if (!v || v.length === 0) return undefined;
  const set = new Set(v.map((x) => x.toLowerCase()));
  for (const x of set) if (!['true', '1', 'false', '0'].includes(x)) throw errdefs.invalidArgument(`invalid filter 'dangling=${x}'`);
  if (set.size > 1 && (set.has('true') || set.has('1')) && (set.has('false') || set.has('0')))
    throw errdefs.invalidArgument(`invalid filter 'dangling': both true and false`);
  return set.has('true') || set.has('1');
}

/** label=key, label=key=value (and label!= for prune) against an image's labels. */
export function labelsMatch(f: Filters, labels: Record<string, string> | null | undefined): boolean {
  return (f.label ?? []).every((expr) => matchLabel(labels, expr)) && !(f['label!'] ?? []).some((expr) => matchLabel(labels, expr));
}

/** A compiled glob: `*` any run of non-"/" characters, `?` one, `[...]` / `[^...]` a class, `\\x` a literal x. */
export interface Glob {
  test(s: string): boolean;
}

type Atom = { kind: 'star' } | { kind: 'one' } | { kind: 'lit'; c: string } | { kind: 'class'; negate: boolean; ranges: [string, string][] };

function atomMatches(a: Atom, c: string): boolean {
  if (c === '/') return a.kind === 'lit' && a.c === '/';
  if (a.kind === 'one') return true;
  if (a.kind === 'lit') return a.c === c;
  if (a.kind === 'class') return a.negate !== a.ranges.some(([lo, hi]) => lo <= c && c <= hi);
  return false;
}

/**
 * Docker's reference filter patterns (Go's path.Match): matched without regular expressions, in
 * O(pattern × text) time whatever the pattern, so a filter of many stars cannot make the daemon
 * backtrack for minutes. A malformed class is a 400.
 */
export function globToRegExp(pattern: string): Glob {
  const bad = () => errdefs.invalidArgument(`invalid filter 'reference=${pattern}': syntax error in pattern`);
  const chars = [...pattern];
  const atoms: Atom[] = [];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === '*') {
      if (atoms[atoms.length - 1]?.kind !== 'star') atoms.push({ kind: 'star' });
    } else if (c === '?') atoms.push({ kind: 'one' });
    else if (c === '[') {
      let j = i + 1;
      const negate = chars[j] === '^';
      if (negate) j++;
      const ranges: [string, string][] = [];
      for (;;) {
        if (j >= chars.length) throw bad();
        if (chars[j] === ']') {
          if (ranges.length === 0) throw bad(); // "[]" and "[^]": empty classes, as path.Match refuses
          break;
        }
        let lo = chars[j]!;
        if (lo === '\\') lo = chars[++j] ?? '';
        if (lo === '') throw bad();
        let hi = lo;
        if (chars[j + 1] === '-' && chars[j + 2] !== undefined && chars[j + 2] !== ']') {
          hi = chars[j + 2]!;
          j += 2;
          if (hi === '\\') hi = chars[++j] ?? '';
          if (hi === '' || hi < lo) throw bad();
        }
        ranges.push([lo, hi]);
        j++;
      }
      atoms.push({ kind: 'class', negate, ranges });
      i = j;
    } else if (c === '\\') {
      if (i + 1 >= chars.length) throw bad();
      atoms.push({ kind: 'lit', c: chars[++i]! });
    } else atoms.push({ kind: 'lit', c });
  }
  return {
    test(s: string): boolean {
      // reachable[k]: the first k atoms can match the text read so far (a star spans no "/")
      const text = [...s];
      let reach = new Array<boolean>(atoms.length + 1).fill(false);
      reach[0] = true;
      for (let k = 0; k < atoms.length && atoms[k]!.kind === 'star'; k++) reach[k + 1] = true;
      for (const ch of text) {
        const next = new Array<boolean>(atoms.length + 1).fill(false);
        for (let k = 0; k < atoms.length; k++) {
          if (!reach[k]) continue;
          const a = atoms[k]!;
          if (a.kind === 'star') {
            if (ch !== '/') next[k] = true;
          } else if (atomMatches(a, ch)) next[k + 1] = true;
        }
        // a star may also match nothing: what reaches it reaches past it
        for (let k = 0; k < atoms.length; k++) if (next[k] && atoms[k]!.kind === 'star') next[k + 1] = true;
        reach = next;
        if (!reach.includes(true)) return false;
      }
      return reach[atoms.length]!;
    },
  };
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
  throw errdefs.invalidArgument(`invalid filter '${name}=${value}': cannot parse as a time`);
}
