/**
 * Go's path rules that COPY/ADD sources and .dockerignore patterns follow: filepath.Match (the
 * glob of a COPY source: `*` and `?` stop at `/`, `[a-z]` and `[^...]` classes, `\` escapes) and
 * filepath.Clean (lexical clean-up of a path).
 */

/** A pattern filepath.Match refuses (`syntax error in pattern`, Go's ErrBadPattern). */
export class BadPatternError extends Error {
  constructor(readonly pattern: string) {
    super('syntax error in pattern');
    this.name = 'BadPatternError';
  }
}

class Bad extends Error {}

/** filepath.Match on Linux: does the whole `name` match `pattern`? Throws BadPatternError. */
export function matchGlob(pattern: string, name: string): boolean {
  try {
    return match(Array.from(pattern), Array.from(name));
  } catch (e) {
    if (e instanceof Bad) throw new BadPatternError(pattern);
    throw e;
  }
}

/** Whether a pattern has glob characters (so COPY treats the source as a pattern, not a path). */
export function hasGlob(pattern: string): boolean {
  return /[*?[\\]/.test(pattern);
}

function match(pattern: string[], name: string[]): boolean {
  let p = pattern;
  let n = name;
  outer: while (p.length > 0) {
    const { star, chunk, rest } = scanChunk(p);
    p = rest;
    if (star && chunk.length === 0) return !n.includes('/');
    const t = matchChunk(chunk, n);
    if (t !== undefined && (t.length === 0 || p.length > 0)) {
      n = t;
      continue;
    }
    if (star) {
      for (let i = 0; i < n.length && n[i] !== '/'; i++) {
        const t2 = matchChunk(chunk, n.slice(i + 1));
        if (t2 !== undefined) {
          // the last chunk must use up the name
          if (p.length === 0 && t2.length > 0) continue;
          n = t2;
          continue outer;
        }
      }
    }
    // no match: the rest of the pattern must still be well-formed
    while (p.length > 0) {
      const c = scanChunk(p);
      p = c.rest;
      matchChunk(c.chunk, []);
    }
    return false;
  }
  return n.length === 0;
}

function scanChunk(pattern: string[]): { star: boolean; chunk: string[]; rest: string[] } {
  let star = false;
  let s = 0;
  while (s < pattern.length && pattern[s] === '*') {
    s++;
    star = true;
  }
  let inRange = false;
  let i = s;
  for (; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      if (i + 1 < pattern.length) i++;
    } else if (c === '[') inRange = true;
    else if (c === ']') inRange = false;
    else if (c === '*' && !inRange) break;
  }
  return { star, chunk: pattern.slice(s, i), rest: pattern.slice(i) };
}

/** The name left after `chunk` matched its start, or undefined; a malformed chunk throws Bad. */
function matchChunk(chunk: string[], s: string[]): string[] | undefined {
  let failed = false;
  let c = 0;
  let k = 0;
  while (c < chunk.length) {
    if (!failed && k >= s.length) failed = true;
    const ch = chunk[c]!;
    if (ch === '[') {
      const r = failed ? '' : s[k++]!;
      c++;
      let negated = false;
      if (chunk[c] === '^') {
        negated = true;
        c++;
      }
      let matched = false;
      let nrange = 0;
      for (;;) {
        if (chunk[c] === ']' && nrange > 0) {
          c++;
          break;
        }
        let lo: string;
        [lo, c] = getEsc(chunk, c);
        let hi = lo;
        if (chunk[c] === '-') [hi, c] = getEsc(chunk, c + 1);
        if (!failed && cmp(lo, r) <= 0 && cmp(r, hi) <= 0) matched = true;
        nrange++;
      }
      if (matched === negated) failed = true;
    } else if (ch === '?') {
      if (!failed) {
        if (s[k] === '/') failed = true;
        k++;
      }
      c++;
    } else {
      let lit = ch;
      if (ch === '\\') {
        c++;
        if (c >= chunk.length) throw new Bad();
        lit = chunk[c]!;
      }
      if (!failed) {
        if (lit !== s[k]) failed = true;
        k++;
      }
      c++;
    }
  }
  return failed ? undefined : s.slice(k);
}

function cmp(a: string, b: string): number {
  return a.codePointAt(0)! - b.codePointAt(0)!;
}

function getEsc(chunk: string[], c: number): [string, number] {
  if (c >= chunk.length || chunk[c] === '-' || chunk[c] === ']') throw new Bad();
  if (chunk[c] === '\\') {
    c++;
    if (c >= chunk.length) throw new Bad();
  }
  const r = chunk[c]!;
  c++;
  if (c >= chunk.length) throw new Bad();
  return [r, c];
}

/** filepath.Clean: the shortest equivalent path by lexical processing ("" is "."). */
export function cleanPath(path: string): string {
  if (path === '') return '.';
  const rooted = path.startsWith('/');
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const joined = out.join('/');
  if (rooted) return '/' + joined;
  return joined === '' ? '.' : joined;
}
