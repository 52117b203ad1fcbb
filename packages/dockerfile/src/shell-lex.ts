/**
 * Docker's word expansion: the rules of BuildKit's shell lexer (frontend/dockerfile/shell), which
 * the classic builder uses too. It is not a shell: it knows quotes, the escape character, `$VAR`,
 * `${VAR}` and the modifiers `${VAR:-w}` `${VAR-w}` `${VAR:+w}` `${VAR+w}` `${VAR:?w}` `${VAR?w}`,
 * `${VAR#p}` `${VAR##p}` `${VAR%p}` `${VAR%%p}` and `${VAR/p/r}` `${VAR//p/r}`; an unset variable
 * expands to nothing. No command substitution, arithmetic or globbing.
 *
 * Which instructions are expanded, and with what, is the caller's business (see `expandInstruction`):
 * RUN, CMD and ENTRYPOINT are never expanded by the builder (the shell does that at run time).
 */

import { Nfa, type Token } from './nfa';

export type Env = ReadonlyMap<string, string> | Readonly<Record<string, string>>;

/** A word Docker's lexer refuses (`failed to process "${a": syntax error: missing '}'`). */
export class ShellExpansionError extends Error {
  constructor(
    readonly word: string,
    readonly reason: string,
  ) {
    // the word in full is `word`; the message quotes a bounded part of it
    super(`failed to process ${JSON.stringify(word.length > 256 ? `${word.slice(0, 256)}...` : word)}: ${reason}`);
    this.name = 'ShellExpansionError';
  }
}

/** Thrown inside the lexer, turned into a ShellExpansionError with the whole word by `process`. */
class LexFailure extends Error {}

export interface LexOptions {
  /** The Dockerfile's escape character (`\` or a backtick). */
  escapeChar?: string;
  /** Keep quote characters in the result (BuildKit's RawQuotes). */
  rawQuotes?: boolean;
  /** Keep escape characters in the result (RawEscapes). */
  rawEscapes?: boolean;
  /** Leave references to unset variables as written (SkipUnsetEnv). */
  skipUnsetEnv?: boolean;
  /** Quotes are ordinary characters (SkipProcessQuotes: heredoc bodies). */
  skipProcessQuotes?: boolean;
}

function lookupEnv(env: Env, name: string): string | undefined {
  if (env instanceof Map) return (env as ReadonlyMap<string, string>).get(name);
  const rec = env as Readonly<Record<string, string>>;
  return Object.prototype.hasOwnProperty.call(rec, name) ? rec[name] : undefined;
}

const EOF = '';
/** Nesting of `${...}` words Gantry follows (Go's growable stacks have no such limit; no real Dockerfile nears it). */
const MAX_DEPTH = 1000;
const LETTER = /^\p{L}$/u;
const DIGIT = /^\p{Nd}$/u;

/** The words of a result, split on unquoted, unescaped white space as the lexer does. */
class Words {
  private buf = '';
  private inWord = false;
  readonly words: string[] = [];

  addChar(ch: string): void {
    if (isLexSpace(ch)) {
      if (this.inWord && this.buf.length > 0) {
        this.words.push(this.buf);
        this.buf = '';
        this.inWord = false;
      }
    } else this.addRawChar(ch);
  }
  addRawChar(ch: string): void {
    this.buf += ch;
    this.inWord = true;
  }
  addString(s: string): void {
    for (const ch of s) this.addChar(ch);
  }
  addRawString(s: string): void {
    this.buf += s;
    this.inWord = true;
  }
  finish(): string[] {
    if (this.buf.length > 0) {
      this.words.push(this.buf);
      this.buf = '';
      this.inWord = false;
    }
    return this.words;
  }
}

/** Go's unicode.IsSpace over a code point (the lexer iterates code points). */
function isLexSpace(ch: string): boolean {
  const c = ch.codePointAt(0)!;
  if (c <= 0xff) return (c >= 0x09 && c <= 0x0d) || c === 0x20 || c === 0x85 || c === 0xa0;
  return c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000;
}

class Lexer {
  private readonly chars: string[];
  private pos = 0;
  private depth = 0;
  private rawEscapes: boolean;
  private readonly escape: string;

  constructor(
    word: string,
    private readonly env: Env,
    private readonly opts: LexOptions,
  ) {
    this.chars = Array.from(word);
    this.rawEscapes = opts.rawEscapes ?? false;
    this.escape = opts.escapeChar ?? '\\';
  }

  private peek(): string {
    return this.pos < this.chars.length ? this.chars[this.pos]! : EOF;
  }
  private next(): string {
    return this.pos < this.chars.length ? this.chars[this.pos++]! : EOF;
  }

  /** Process up to `stop` (consumed) or the end; returns the text and its words. */
  processStopOn(stop: string, rawEscapes: boolean): { text: string; words: string[] } {
    // `${a:-${a:-${a:-...` nests a call per level: refuse what would exhaust the stack
    if (++this.depth > MAX_DEPTH) throw new LexFailure('substitutions nested too deeply');
    let text = '';
    const words = new Words();
    const saved = this.rawEscapes;
    this.rawEscapes = rawEscapes;
    try {
      while (this.peek() !== EOF) {
        const ch = this.peek();
        if (stop !== EOF && ch === stop) {
          this.next();
          return { text, words: words.finish() };
        }
        const special = this.special(ch);
        if (special !== undefined) {
          const tmp = special();
          text += tmp;
          if (ch === '$') words.addString(tmp);
          else words.addRawString(tmp);
          continue;
        }
        let c = this.next();
        if (c === this.escape) {
          if (this.rawEscapes) {
            words.addRawChar(c);
            text += c;
          }
          c = this.next();
          if (c === EOF) break;
          words.addRawChar(c);
        } else words.addChar(c);
        text += c;
      }
      if (stop !== EOF) throw new LexFailure(`unexpected end of statement while looking for matching ${stop}`);
      return { text, words: words.finish() };
    } finally {
      this.rawEscapes = saved;
      this.depth--;
    }
  }

  private special(ch: string): (() => string) | undefined {
    switch (ch) {
      case '$':
        return () => this.dollar();
      case '<':
        return () => this.possibleHeredoc();
      case "'":
        return this.opts.skipProcessQuotes ? undefined : () => this.singleQuote();
      case '"':
        return this.opts.skipProcessQuotes ? undefined : () => this.doubleQuote();
      default:
        return undefined;
    }
  }

  private singleQuote(): string {
    let out = '';
    const open = this.next();
    if (this.opts.rawQuotes) out += open;
    for (;;) {
      const ch = this.next();
      if (ch === EOF) throw new LexFailure('unexpected end of statement while looking for matching single-quote');
      if (ch === "'") {
        if (this.opts.rawQuotes) out += ch;
        return out;
      }
      out += ch;
    }
  }

  private doubleQuote(): string {
    let out = '';
    const open = this.next();
    if (this.opts.rawQuotes) out += open;
    for (;;) {
      const p = this.peek();
      if (p === EOF) throw new LexFailure('unexpected end of statement while looking for matching double-quote');
      if (p === '"') {
        const close = this.next();
        if (this.opts.rawQuotes) out += close;
        return out;
      }
      if (p === '$') {
        out += this.dollar();
        continue;
      }
      let ch = this.next();
      if (ch === this.escape) {
        if (this.rawEscapes) out += ch;
        const n = this.peek();
        if (n === EOF) continue;
        // inside double quotes only `"`, `$` and the escape character itself are escaped
        if (n === '"' || n === '$' || n === this.escape) ch = this.next();
      }
      out += ch;
    }
  }

  private possibleHeredoc(): string {
    this.next();
    if (this.peek() !== '<') return '<';
    this.next();
    let space = '';
    while (this.peek() === ' ' || this.peek() === '\t' || this.peek() === '\r') space += this.next();
    return '<<' + space;
  }

  private get(name: string): string | undefined {
    return lookupEnv(this.env, name);
  }

  private dollar(): string {
    this.next();
    if (this.peek() !== '{') {
      const name = this.name();
      if (name === '') return '$';
      const value = this.get(name);
      if (value === undefined && this.opts.skipUnsetEnv) return '$' + name;
      return value ?? '';
    }
    this.next();
    const first = this.peek();
    if (first === EOF) throw new LexFailure("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') throw new LexFailure('syntax error: bad substitution');
    const name = this.name();
    // Go's scanner gives U+FFFD's text for EOF: `${a` is an "unsupported modifier (\uFFFD)"
    let ch = this.next();
    if (ch === EOF) ch = '\ufffd';
    let mods = ch;
    if (ch === '}') {
      const value = this.get(name);
      if (value === undefined && this.opts.skipUnsetEnv) return `\${${name}}`;
      return value ?? '';
    }
    if (ch === '/') return this.replace(name);
    let nullIsUnset = false;
    if (ch === ':') {
      nullIsUnset = true;
      ch = this.next();
      if (ch === EOF) ch = '\ufffd';
      mods += ch;
    } else if (!'+-?#%'.includes(ch)) throw new LexFailure(`unsupported modifier (${mods}) in substitution`);

    const pattern = ch === '#' || ch === '%';
    if (nullIsUnset && pattern) throw new LexFailure(`unsupported modifier (${mods}) in substitution`);
    const word = this.untilClose('}', pattern);
    const value = this.get(name);
    if (this.opts.skipUnsetEnv && value === undefined) return `\${${name}${mods}${word}}`;
    const empty = value === undefined || (nullIsUnset && value === '');
    switch (ch) {
      case '-':
        return empty ? word : value!;
      case '+':
        return empty ? '' : word;
      case '?':
        if (value === undefined) throw new LexFailure(`${name}: ${word || 'is not allowed to be unset'}`);
        if (nullIsUnset && value === '') throw new LexFailure(`${name}: ${word || 'is not allowed to be empty'}`);
        return value;
      case '#':
      case '%': {
        const greedy = word.startsWith(ch);
        const pat = greedy ? word.slice(1) : word;
        return ch === '%' ? trimSuffix(pat, value ?? '', greedy) : trimPrefix(pat, value ?? '', greedy);
      }
      default:
        throw new LexFailure(`unsupported modifier (${mods}) in substitution`);
    }
  }

  /** The word of a `${name<op>word}` up to its closing character; a missing one is Docker's "missing '}'". */
  private untilClose(close: string, rawEscapes: boolean): string {
    try {
      return this.processStopOn(close, rawEscapes).text;
    } catch (e) {
      if (e instanceof LexFailure && this.peek() === EOF) {
        throw new LexFailure(close === '}' ? "syntax error: missing '}'" : "syntax error: missing '/' in ${}");
      }
      throw e;
    }
  }

  private replace(name: string): string {
    const all = this.peek() === '/';
    if (all) this.next();
    const pattern = this.untilClose('/', true);
    const replacement = this.untilClose('}', true);
    const value = this.get(name);
    if (this.opts.skipUnsetEnv && value === undefined) return `\${${name}/${pattern}/${replacement}}`;
    return replaceMatches(shellPattern(pattern), value ?? '', replacement, all);
  }

  private name(): string {
    let name = '';
    for (;;) {
      const ch = this.peek();
      if (ch === EOF) return name;
      if (name === '' && DIGIT.test(ch)) {
        while (this.peek() !== EOF && DIGIT.test(this.peek())) name += this.next();
        return name;
      }
      if (name === '' && '@*#?-$!0'.includes(ch)) return this.next();
      if (!LETTER.test(ch) && !DIGIT.test(ch) && ch !== '_') return name;
      name += this.next();
    }
  }
}

/** A shell pattern (`*`, `?`, `\` escapes; everything else literal) as an automaton. */
function shellPattern(pattern: string): Nfa {
  const chars = Array.from(pattern);
  const tokens: Token[] = [];
  for (let i = 0; i < chars.length; i++) {
    const tok = chars[i]!;
    if (tok === '*') tokens.push({ t: 'star', not: '\n' });
    else if (tok === '?') tokens.push({ t: 'one', not: '\n' });
    else if (tok === '\\') {
      const n = chars[i + 1];
      if (n === '}' || n === '/') continue;
      i++;
      if (n !== '*' && n !== '?' && n !== '\\') throw new LexFailure(`invalid pattern (${pattern}) in substitution: invalid escape '\\${n ?? '\ufffd'}'`);
      tokens.push({ t: 'lit', c: n });
    } else tokens.push({ t: 'lit', c: tok });
  }
  return new Nfa(tokens);
}

function trimPrefix(pattern: string, value: string, greedy: boolean): string {
  const chars = Array.from(value);
  const ends = shellPattern(pattern).prefixEnds(chars);
  if (ends.length === 0) return value;
  return chars.slice(greedy ? ends[ends.length - 1] : ends[0]).join('');
}

/** A pattern reversed with its `\x` escapes kept in order, so a suffix is trimmed as a prefix. */
function reversePattern(pattern: string): string {
  const p = Array.from(pattern);
  const out: string[] = [];
  for (let i = 0; i < p.length;) {
    if (p[i] === '\\' && i !== p.length - 1) {
      out.unshift(p[i]!, p[i + 1]!);
      i += 2;
    } else out.unshift(p[i++]!);
  }
  return out.join('');
}

function reverse(s: string): string {
  return Array.from(s).reverse().join('');
}

function trimSuffix(pattern: string, value: string, greedy: boolean): string {
  return reverse(trimPrefix(reversePattern(pattern), reverse(value), greedy));
}

/** `${V/p/r}` and `${V//p/r}`: leftmost, longest matches; an empty match next to the previous one is skipped, as in Go. */
function replaceMatches(nfa: Nfa, value: string, replacement: string, all: boolean): string {
  const chars = Array.from(value);
  let out = '';
  let pos = 0;
  let prevEnd = -1;
  while (pos <= chars.length) {
    const m = nfa.search(chars, pos);
    if (!m) break;
    const [s, e] = m;
    if (s === e && s === prevEnd) {
      if (s >= chars.length) break;
      out += chars[s];
      pos = s + 1;
      continue;
    }
    out += chars.slice(pos, s).join('') + replacement;
    prevEnd = e;
    pos = e;
    if (!all) break;
    if (s === e) {
      if (s >= chars.length) break;
      out += chars[s];
      pos = s + 1;
    }
  }
  return out + chars.slice(pos).join('');
}

function run<T>(word: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof LexFailure) throw new ShellExpansionError(word, e.message);
    throw e;
  }
}

/** One word expanded as Docker expands ENV, LABEL, WORKDIR, USER, COPY/ADD paths... (ProcessWord). */
export function processWord(word: string, env: Env, opts: LexOptions = {}): string {
  return run(word, () => new Lexer(word, env, opts).processStopOn(EOF, opts.rawEscapes ?? false).text);
}

/** The words of a text after expansion, split on unquoted white space (ProcessWords: EXPOSE, heredoc names). */
export function processWords(word: string, env: Env, opts: LexOptions = {}): string[] {
  return run(word, () => new Lexer(word, env, opts).processStopOn(EOF, opts.rawEscapes ?? false).words);
}
