/**
 * A small pattern automaton for the globs Docker turns into Go regular expressions
 * (.dockerignore patterns, `${VAR#pattern}` and friends). Go's regexp engine runs in linear time;
 * JavaScript's backtracks, so `*a*a*a*a*b` against a long path or value would stall the daemon.
 * Simulating the automaton over sets of states keeps every match O(length × pattern).
 */

export type Token =
  | { t: 'lit'; c: string }
  /** One character: `?` (not `/` in paths, not a newline in words). */
  | { t: 'one'; not: string }
  /** Any run of characters but `not` (`*`, `**`). */
  | { t: 'star'; not: string }
  /** `**\/` in a path pattern: nothing, or anything up to and including a `/`. */
  | { t: 'dirs' }
  /** A bracket expression. */
  | { t: 'class'; test: (ch: string) => boolean }
  /** A `^` inside a Docker path pattern: the regexp's start-of-text assertion. */
  | { t: 'bol' };

/** A compiled pattern. States 0..n-1 wait for token k, n accepts, n+1+k is "inside" token k's `dirs` loop. */
export class Nfa {
  private readonly n: number;

  constructor(private readonly tokens: readonly Token[]) {
    this.n = tokens.length;
  }

  /** Add `s` and what it reaches without consuming (at text position `p`). */
  private close(set: Set<number>, s: number, p: number): void {
    const stack = [s];
    while (stack.length > 0) {
      const k = stack.pop()!;
      if (set.has(k)) continue;
      set.add(k);
      if (k >= this.n) continue;
      const tok = this.tokens[k]!;
      if (tok.t === 'star') stack.push(k + 1);
      else if (tok.t === 'dirs') stack.push(k + 1, this.n + 1 + k);
      else if (tok.t === 'bol' && p === 0) stack.push(k + 1);
    }
  }

  /** The states after consuming `ch` from `states`. */
  private step(states: Iterable<number>, ch: string, into: (s: number) => void): void {
    for (const k of states) {
      if (k > this.n) {
        // inside a `dirs` loop: any character but a newline; a `/` may end it
        if (ch !== '\n') into(k);
        if (ch === '/') into(k - this.n);
        continue;
      }
      if (k === this.n) continue;
      const tok = this.tokens[k]!;
      switch (tok.t) {
        case 'lit':
          if (ch === tok.c) into(k + 1);
          break;
        case 'one':
          if (!tok.not.includes(ch)) into(k + 1);
          break;
        case 'star':
          if (!tok.not.includes(ch)) into(k);
          break;
        case 'class':
          if (tok.test(ch)) into(k + 1);
          break;
        default:
          break;
      }
    }
  }

  /** Does the whole text match? */
  matches(text: string): boolean {
    const chars = Array.from(text);
    let cur = new Set<number>();
    this.close(cur, 0, 0);
    for (let p = 0; p < chars.length && cur.size > 0; p++) {
      const next = new Set<number>();
      this.step(cur, chars[p]!, (s) => this.close(next, s, p + 1));
      cur = next;
    }
    return cur.has(this.n);
  }

  /** The ends (in code points) of the prefixes of `chars` that match, ascending. */
  prefixEnds(chars: readonly string[]): number[] {
    const ends: number[] = [];
    let cur = new Set<number>();
    this.close(cur, 0, 0);
    if (cur.has(this.n)) ends.push(0);
    for (let p = 0; p < chars.length && cur.size > 0; p++) {
      const next = new Set<number>();
      this.step(cur, chars[p]!, (s) => this.close(next, s, p + 1));
      cur = next;
      if (cur.has(this.n)) ends.push(p + 1);
    }
    return ends;
  }

  /**
   * The leftmost match at or after `from`, longest at that start (the greedy choice), as
   * [start, end] in code points: one pass with each state remembering its earliest start.
   */
  search(chars: readonly string[], from: number): [number, number] | undefined {
    let best: [number, number] | undefined;
    let cur = new Map<number, number>();
    const add = (m: Map<number, number>, s: number, start: number, p: number): void => {
      const closure = new Set<number>();
      this.close(closure, s, p);
      for (const k of closure) {
        const had = m.get(k);
        if (had === undefined || start < had) m.set(k, start);
      }
    };
    for (let p = from; ; p++) {
      if (best === undefined) add(cur, 0, p, p);
      const acc = cur.get(this.n);
      if (acc !== undefined && (best === undefined || acc < best[0] || (acc === best[0] && p > best[1]))) best = [acc, p];
      if (best !== undefined) for (const [k, start] of cur) if (start > best[0]) cur.delete(k);
      if (p >= chars.length || (cur.size === 0 && best !== undefined)) break;
      const next = new Map<number, number>();
      const ch = chars[p]!;
      for (const [k, start] of cur) this.step([k], ch, (s) => add(next, s, start, p + 1));
      cur = next;
    }
    return best;
  }
}
