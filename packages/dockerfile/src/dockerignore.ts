/**
 * .dockerignore, with the semantics of Docker's ignore-file reader and pattern matcher
 * (moby/patternmatcher): one pattern a line; a line starting with `#` is a comment; blank lines
 * are skipped; patterns are trimmed and cleaned (filepath.Clean) and a leading `/` is dropped;
 * `*` and `?` stop at `/`, `**` spans any number of directories; `!` makes an exception; the last
 * pattern that matches a path (or one of its parent directories) decides.
 */
import { BadPatternError, cleanPath, matchGlob } from './glob';
import { Nfa, type Token } from './nfa';
import { trimSpace } from './text';

export interface IgnorePattern {
  /** The cleaned pattern, without its `!`. */
  pattern: string;
  exclusion: boolean;
}

/** A compiled .dockerignore: call it with a context-relative path; true means excluded. */
export interface IgnoreMatcher {
  (relPath: string): boolean;
  readonly patterns: readonly IgnorePattern[];
  /**
   * Whether an excluded directory must still be walked because an exception may re-include
   * something under it (Docker's rule: an exception pattern that starts with `<dir>/`).
   */
  mustWalk(dir: string): boolean;
}

/** A .dockerignore Docker refuses (`illegal exclusion pattern: "!"`, a malformed glob). */
export class DockerignoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DockerignoreError';
  }
}

/** The patterns of a .dockerignore, as Docker's reader returns them (`!` kept in front). */
export function readDockerignore(text: string): string[] {
  if (text.startsWith('\ufeff')) text = text.slice(1);
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    if (raw.startsWith('#')) continue;
    let pattern = trimSpace(raw);
    if (pattern === '') continue;
    const invert = pattern.startsWith('!');
    if (invert) pattern = trimSpace(pattern.slice(1));
    if (pattern.length > 0) {
      pattern = cleanPath(pattern);
      if (pattern.length > 1 && pattern.startsWith('/')) pattern = pattern.slice(1);
    }
    out.push(invert ? `!${pattern}` : pattern);
  }
  return out;
}

type MatchType = 'exact' | 'prefix' | 'suffix' | 'automaton';

/**
 * One pattern, matched as Docker's pattern matcher matches it: Docker turns the pattern into a
 * Go regular expression (`*` is `[^/]*`, `?` is `[^/]`, `**` spans directories, other regexp
 * characters escaped, brackets kept), with shortcuts for the exact, `prefix**` and `**suffix`
 * shapes. Gantry keeps the shortcuts and runs the rest as an automaton (nfa.ts), never as a
 * backtracking JavaScript expression; bracket expressions follow filepath.Match's syntax, which
 * the pattern was checked against.
 */
class Pattern {
  private readonly type: MatchType;
  private readonly nfa?: Nfa;

  constructor(
    readonly pattern: string,
    readonly exclusion: boolean,
  ) {
    const chars = Array.from(pattern);
    const tokens: Token[] = [];
    let type: MatchType = 'exact';
    for (let k = 0, i = 0; k < chars.length; i++) {
      const ch = chars[k++]!;
      if (ch === '*') {
        if (chars[k] === '*') {
          k++;
          if (chars[k] === '/') k++;
          if (k >= chars.length) {
            // a trailing ** matches everything below, as in .gitignore
            if (type === 'exact') type = 'prefix';
            else {
              tokens.push({ t: 'star', not: '\n' });
              type = 'automaton';
            }
          } else {
            tokens.push({ t: 'dirs' });
            type = 'automaton';
          }
          if (i === 0) type = 'suffix';
        } else {
          tokens.push({ t: 'star', not: '/' });
          type = 'automaton';
        }
      } else if (ch === '?') {
        tokens.push({ t: 'one', not: '/' });
        type = 'automaton';
      } else if (ch === '\\') {
        tokens.push({ t: 'lit', c: k < chars.length ? chars[k++]! : '\\' });
        type = 'automaton';
      } else if (ch === '[') {
        const [test, next] = bracket(chars, k);
        tokens.push({ t: 'class', test });
        k = next;
        type = 'automaton';
      } else if (ch === ']') {
        tokens.push({ t: 'lit', c: ch });
        type = 'automaton';
      } else if (ch === '^')
        tokens.push({ t: 'bol' }); // unescaped in Docker's expression: an anchor
      else tokens.push({ t: 'lit', c: ch });
    }
    this.type = type;
    if (type === 'automaton') this.nfa = new Nfa(tokens);
  }

  matches(path: string): boolean {
    switch (this.type) {
      case 'exact':
        return path === this.pattern;
      case 'prefix':
        return path.startsWith(this.pattern.slice(0, -2));
      case 'suffix': {
        const suffix = this.pattern.slice(2);
        if (path.endsWith(suffix)) return true;
        return suffix.startsWith('/') && path === suffix.slice(1);
      }
      case 'automaton':
        return this.nfa!.matches(path);
    }
  }
}

/** A bracket expression starting after its `[` (already checked by filepath.Match): its test and the index after `]`. */
function bracket(chars: readonly string[], k: number): [(ch: string) => boolean, number] {
  let negated = false;
  if (chars[k] === '^') {
    negated = true;
    k++;
  }
  const ranges: [number, number][] = [];
  const esc = (): number => {
    if (chars[k] === '\\') k++;
    return (chars[k++] ?? '').codePointAt(0) ?? -1;
  };
  while (k < chars.length && !(chars[k] === ']' && ranges.length > 0)) {
    const lo = esc();
    let hi = lo;
    if (chars[k] === '-') {
      k++;
      hi = esc();
    }
    // filepath.Match lets `[z-a]` pass; the Go expression Docker then builds does not compile
    if (hi < lo) throw new DockerignoreError('syntax error in pattern');
    ranges.push([lo, hi]);
  }
  const test = (ch: string): boolean => {
    const c = ch.codePointAt(0)!;
    return ranges.some(([lo, hi]) => lo <= c && c <= hi) !== negated;
  };
  return [test, k + 1];
}

/** Compile patterns (as readDockerignore returns them) into Docker's matcher. */
function compilePatterns(lines: readonly string[]): Pattern[] {
  const out: Pattern[] = [];
  for (let p of lines) {
    p = trimSpace(p);
    if (p === '') continue;
    p = cleanPath(p);
    let exclusion = false;
    if (p.startsWith('!')) {
      if (p.length === 1) throw new DockerignoreError('illegal exclusion pattern: "!"');
      exclusion = true;
      p = p.slice(1);
    }
    try {
      matchGlob(p, '.');
    } catch (e) {
      if (e instanceof BadPatternError) throw new DockerignoreError(`${e.message}: ${p}`);
      throw e;
    }
    out.push(new Pattern(p, exclusion));
  }
  return out;
}

/** Docker's MatchesOrParentMatches: the last pattern matching the path or a parent directory wins. */
function excluded(patterns: readonly Pattern[], file: string): boolean {
  let matched = false;
  const slash = file.lastIndexOf('/');
  const parent = slash < 0 ? '.' : cleanPath(file.slice(0, slash) || '/');
  const parentDirs = parent.split('/');
  for (const p of patterns) {
    // an inclusion cannot change a match, an exception cannot change a non-match
    if (p.exclusion !== matched) continue;
    let m = p.matches(file);
    if (!m && parent !== '.') {
      for (let i = 0; i < parentDirs.length && !m; i++) m = p.matches(parentDirs.slice(0, i + 1).join('/'));
    }
    if (m) matched = !p.exclusion;
  }
  return matched;
}

/**
 * A .dockerignore's text as a matcher of context-relative paths (`a/b.txt`, no leading `./`).
 * Throws DockerignoreError for patterns Docker refuses.
 */
export function compileDockerignore(text: string): IgnoreMatcher {
  const patterns = compilePatterns(readDockerignore(text));
  const matcher = (relPath: string): boolean => excluded(patterns, relPath);
  const hasExclusions = patterns.some((p) => p.exclusion);
  return Object.assign(matcher, {
    patterns: patterns.map((p) => ({ pattern: p.pattern, exclusion: p.exclusion })),
    mustWalk(dir: string): boolean {
      if (!hasExclusions) return false;
      const prefix = `${dir}/`;
      return patterns.some((p) => p.exclusion && `${p.pattern}/`.startsWith(prefix));
    },
  });
}
