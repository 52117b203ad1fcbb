/**
 * The automaton (src/nfa.ts) against the expressions Docker builds, run by JavaScript's regexp
 * engine on inputs short enough for backtracking to be harmless: .dockerignore patterns (Docker's
 * regexp of `*`, `?`, `**`) and the `${VAR#p}` `${VAR%p}` `${VAR/p/r}` patterns. Both engines
 * use leftmost-first semantics, as Go's does, so the regexp is the reference.
 */
import * as fc from 'fast-check';
import { compileDockerignore, expandWord } from '../src';

/** Docker's expression for a path pattern without brackets or escapes (patternmatcher's compile). */
function dockerRegex(pattern: string): { type: 'exact' | 'prefix' | 'suffix' | 'regexp'; re: RegExp } {
  let re = '^';
  let type: 'exact' | 'prefix' | 'suffix' | 'regexp' = 'exact';
  const chars = Array.from(pattern);
  for (let k = 0, i = 0; k < chars.length; i++) {
    const ch = chars[k++]!;
    if (ch === '*') {
      if (chars[k] === '*') {
        k++;
        if (chars[k] === '/') k++;
        if (k >= chars.length) {
          if (type === 'exact') type = 'prefix';
          else {
            re += '[^\\n]*';
            type = 'regexp';
          }
        } else {
          re += '(?:[^\\n]*/)?';
          type = 'regexp';
        }
        if (i === 0) type = 'suffix';
      } else {
        re += '[^/]*';
        type = 'regexp';
      }
    } else if (ch === '?') {
      re += '[^/]';
      type = 'regexp';
    } else re += ch.replace(/[.+()|{}$^\\[\]]/g, '\\$&');
  }
  return { type, re: new RegExp(re + '$') };
}

function referenceExcluded(pattern: string, path: string): boolean {
  const { type, re } = dockerRegex(pattern);
  const one = (p: string): boolean => {
    switch (type) {
      case 'exact':
        return p === pattern;
      case 'prefix':
        return p.startsWith(pattern.slice(0, -2));
      case 'suffix':
        return p.endsWith(pattern.slice(2)) || (pattern.slice(2).startsWith('/') && p === pattern.slice(3));
      case 'regexp':
        return re.test(p);
    }
  };
  if (one(path)) return true;
  const dirs = path.split('/').slice(0, -1);
  return dirs.some((_, i) => one(dirs.slice(0, i + 1).join('/')));
}

/** Docker's expression for a shell pattern (`*` lazy or greedy, `?`, the rest literal). */
function shellRegex(pattern: string, greedy: boolean, anchored: boolean, flags = ''): RegExp {
  const body = Array.from(pattern)
    .map((c) => (c === '*' ? (greedy ? '[^\\n]*' : '[^\\n]*?') : c === '?' ? '[^\\n]' : c.replace(/[.+()|{}$^\\[\]/]/g, '\\$&')))
    .join('');
  return new RegExp((anchored ? '^' : '') + body, flags);
}

const seg = fc.constantFrom('a', 'b', 'ab', 'x.y', '*', '?', '**', 'a*', '*b', '?a');
const pathPattern = fc.array(seg, { minLength: 1, maxLength: 4 }).map((s) => s.join('/'));
const path = fc.array(fc.constantFrom('a', 'b', 'ab', 'ba', 'x.y', 'aab'), { minLength: 1, maxLength: 4 }).map((s) => s.join('/'));

describe('the automaton agrees with the expressions Docker builds', () => {
  it('.dockerignore patterns', () => {
    fc.assert(
      fc.property(pathPattern, path, (pattern, p) => {
        // patterns are cleaned first; the generator makes clean ones
        expect(compileDockerignore(pattern)(p)).toBe(referenceExcluded(pattern, p));
      }),
      { numRuns: 1000 },
    );
  });

  const shellPattern = fc.array(fc.constantFrom('a', 'b', '*', '?', '.', 'ab'), { maxLength: 5 }).map((a) => a.join(''));
  const value = fc.array(fc.constantFrom('a', 'b', '.', 'ab', '\n'), { maxLength: 8 }).map((a) => a.join(''));

  it('${V#p} ${V##p} ${V%p} ${V%%p}', () => {
    fc.assert(
      fc.property(shellPattern, value, (p, v) => {
        const cut = (re: RegExp, s: string): string => {
          const m = re.exec(s);
          return m ? s.slice(m[0].length) : s;
        };
        const rev = (s: string): string => Array.from(s).reverse().join('');
        expect(expandWord(`\${V#${p}}`, { V: v })).toBe(cut(shellRegex(p, false, true), v));
        expect(expandWord(`\${V##${p}}`, { V: v })).toBe(cut(shellRegex(p, true, true), v));
        expect(expandWord(`\${V%${p}}`, { V: v })).toBe(rev(cut(shellRegex(rev(p), false, true), rev(v))));
        expect(expandWord(`\${V%%${p}}`, { V: v })).toBe(rev(cut(shellRegex(rev(p), true, true), rev(v))));
      }),
      { numRuns: 1000 },
    );
  });

  it('${V/p/r} and, for patterns that cannot match nothing, ${V//p/r}', () => {
    fc.assert(
      // an empty pattern would read as `${V//-}`
      fc.property(
        shellPattern.filter((p) => p !== ''),
        value,
        (p, v) => {
          expect(expandWord(`\${V/${p}/-}`, { V: v })).toBe(v.replace(shellRegex(p, true, false), () => '-'));
          if (/[^*]/.test(p)) expect(expandWord(`\${V//${p}/-}`, { V: v })).toBe(v.replace(shellRegex(p, true, false, 'g'), () => '-'));
        },
      ),
      { numRuns: 1000 },
    );
  });
});
