/**
 * The lexer of Go's text/template: text between actions, and inside `{{ }}` the tokens of
 * Go's action grammar (fields, variables, identifiers, literals, `|`, `(`, `)`, `:=`, `=`, `,`).
 * Trim markers (`{{- ` and ` -}}`) are applied here, as Go's lexer applies them. Errors carry the
 * offset where they were found; the parser turns them into Go's messages.
 */

type TokenType =
  | 'text'
  | 'left'
  | 'right'
  | 'space'
  | 'field'
  | 'variable'
  | 'identifier'
  | 'keyword'
  | 'string'
  | 'rawString'
  | 'char'
  | 'number'
  | 'bool'
  | 'nil'
  | 'dot'
  | 'pipe'
  | 'lparen'
  | 'rparen'
  | 'declare'
  | 'assign'
  | 'comma'
  | 'comment'
  | 'eof';

export interface Token {
  type: TokenType;
  /** The token's text as written (for text: after trimming). */
  val: string;
  /** Offset in the template text. */
  pos: number;
}

export class LexError extends Error {
  override name = 'LexError';
  constructor(
    readonly pos: number,
    readonly reason: string,
  ) {
    super(reason);
  }
}

const KEYWORDS = new Set(['block', 'break', 'continue', 'define', 'else', 'end', 'if', 'range', 'template', 'with']);
const SPACE = new Set([' ', '\t', '\r', '\n']);

function isAlnum(c: string): boolean {
  return c === '_' || /^[\p{L}\p{Nd}]$/u.test(c);
}

/** Go's %#U for an unexpected character: U+0021 '!'. */
function describeChar(c: string): string {
  const cp = c.codePointAt(0) ?? 0;
  return `U+${cp.toString(16).toUpperCase().padStart(4, '0')} '${c}'`;
}

/** All tokens of a template, ending with `eof`. Throws LexError. */
export function lex(input: string): Token[] {
  const toks: Token[] = [];
  let i = 0;
  let trimNextText = false;
  while (i < input.length) {
    const open = input.indexOf('{{', i);
    const textEnd = open < 0 ? input.length : open;
    let trimLeft = false;
    if (open >= 0 && input[open + 2] === '-' && SPACE.has(input[open + 3] ?? '')) trimLeft = true;
    let text = input.slice(i, textEnd);
    if (trimNextText) text = text.replace(/^[ \t\r\n]+/, '');
    if (trimLeft) text = text.replace(/[ \t\r\n]+$/, '');
    if (text.length > 0) toks.push({ type: 'text', val: text, pos: i });
    if (open < 0) break;
    const r = lexAction(input, open, trimLeft, toks);
    i = r.end;
    trimNextText = r.trimRight;
  }
  toks.push({ type: 'eof', val: '', pos: input.length });
  return toks;
}

/** Is there a right delimiter at `p` (possibly ` -}}`)? Returns its length, 0 if none. */
function rightDelimAt(input: string, p: number): { len: number; trim: boolean } | undefined {
  if (SPACE.has(input[p] ?? '') && input[p + 1] === '-' && input.startsWith('}}', p + 2)) return { len: 4, trim: true };
  if (input.startsWith('}}', p)) return { len: 2, trim: false };
  return undefined;
}

function lexAction(input: string, open: number, trimLeft: boolean, toks: Token[]): { end: number; trimRight: boolean } {
  let p = open + (trimLeft ? 4 : 2);
  // comments: {{/* ... */}} with optional trim markers, nothing else in the action
  if (input.startsWith('/*', p)) {
    const close = input.indexOf('*/', p + 2);
    if (close < 0) throw new LexError(open, 'unclosed comment');
    const after = close + 2;
    const rd = rightDelimAt(input, after);
    if (!rd) throw new LexError(open, 'comment ends before closing delimiter');
    toks.push({ type: 'comment', val: input.slice(p, after), pos: open });
    return { end: after + rd.len, trimRight: rd.trim };
  }
  toks.push({ type: 'left', val: '{{', pos: open });
  let parens = 0;
  for (;;) {
    const rd = rightDelimAt(input, p);
    if (rd && parens === 0) {
      toks.push({ type: 'right', val: '}}', pos: p });
      return { end: p + rd.len, trimRight: rd.trim };
    }
    if (p >= input.length) throw new LexError(open, 'unclosed action');
    const c = input[p];
    const start = p;
    if (SPACE.has(c)) {
      while (p < input.length && SPACE.has(input[p]) && !rightDelimAt(input, p)?.trim) p++;
      if (p === start) {
        // " -}}" right here: handled at the loop top
        p++;
      }
      toks.push({ type: 'space', val: input.slice(start, p), pos: start });
      continue;
    }
    if (rd) {
      // "}}" inside parentheses
      throw new LexError(start, 'unclosed left paren');
    }
    switch (c) {
      case '=':
        toks.push({ type: 'assign', val: '=', pos: p++ });
        continue;
      case ':':
        if (input[p + 1] !== '=') throw new LexError(p, 'expected :=');
        toks.push({ type: 'declare', val: ':=', pos: p });
        p += 2;
        continue;
      case '|':
        toks.push({ type: 'pipe', val: '|', pos: p++ });
        continue;
      case ',':
        toks.push({ type: 'comma', val: ',', pos: p++ });
        continue;
      case '(':
        parens++;
        toks.push({ type: 'lparen', val: '(', pos: p++ });
        continue;
      case ')':
        parens--;
        if (parens < 0) throw new LexError(p, `unexpected right paren ${describeChar(')')}`);
        toks.push({ type: 'rparen', val: ')', pos: p++ });
        continue;
      case '"': {
        p++;
        for (;;) {
          const ch = input[p];
          if (ch === undefined || ch === '\n') throw new LexError(start, 'unterminated quoted string');
          p++;
          if (ch === '\\') {
            if (input[p] === undefined || input[p] === '\n') throw new LexError(start, 'unterminated quoted string');
            p++;
          } else if (ch === '"') break;
        }
        toks.push({ type: 'string', val: input.slice(start, p), pos: start });
        continue;
      }
      case '`': {
        const close = input.indexOf('`', p + 1);
        if (close < 0) throw new LexError(start, 'unterminated raw quoted string');
        p = close + 1;
        toks.push({ type: 'rawString', val: input.slice(start, p), pos: start });
        continue;
      }
      case "'": {
        p++;
        for (;;) {
          const ch = input[p];
          if (ch === undefined || ch === '\n') throw new LexError(start, 'unterminated character constant');
          p++;
          if (ch === '\\') {
            if (input[p] === undefined || input[p] === '\n') throw new LexError(start, 'unterminated character constant');
            p++;
          } else if (ch === "'") break;
        }
        toks.push({ type: 'char', val: input.slice(start, p), pos: start });
        continue;
      }
      case '$': {
        p++;
        while (p < input.length && isAlnum(input[p])) p++;
        toks.push({ type: 'variable', val: input.slice(start, p), pos: start });
        continue;
      }
      case '.': {
        const next = input[p + 1] ?? '';
        if (next >= '0' && next <= '9') {
          p = lexNumber(input, p);
          toks.push({ type: 'number', val: input.slice(start, p), pos: start });
          continue;
        }
        p++;
        while (p < input.length && isAlnum(input[p])) p++;
        if (p === start + 1) toks.push({ type: 'dot', val: '.', pos: start });
        else toks.push({ type: 'field', val: input.slice(start, p), pos: start });
        continue;
      }
    }
    if (c === '+' || c === '-' || (c >= '0' && c <= '9')) {
      p = lexNumber(input, p);
      toks.push({ type: 'number', val: input.slice(start, p), pos: start });
      continue;
    }
    if (isAlnum(c)) {
      while (p < input.length && isAlnum(input[p])) p++;
      const word = input.slice(start, p);
      const type: TokenType = KEYWORDS.has(word) ? 'keyword' : word === 'true' || word === 'false' ? 'bool' : word === 'nil' ? 'nil' : 'identifier';
      toks.push({ type, val: word, pos: start });
      continue;
    }
    const ch = String.fromCodePoint(input.codePointAt(p) ?? 0);
    throw new LexError(p, `unrecognized character in action: ${describeChar(ch)}`);
  }
}

/** Go's lexer takes a broad run of number characters; the parser checks the syntax. */
function lexNumber(input: string, p: number): number {
  const start = p;
  if (input[p] === '+' || input[p] === '-') p++;
  let digits = '0123456789_';
  if (input[p] === '0' && /[xXoObB]/.test(input[p + 1] ?? '')) {
    const base = (input[p + 1] ?? '').toLowerCase();
    digits = base === 'x' ? '0123456789abcdefABCDEF_' : base === 'o' ? '01234567_' : '01_';
    p += 2;
  }
  while (p < input.length && digits.includes(input[p])) p++;
  if (input[p] === '.') {
    p++;
    while (p < input.length && digits.includes(input[p])) p++;
  }
  const exp = digits.length > 20 ? 'pP' : 'eEpP';
  if (exp.includes(input[p] ?? '\0')) {
    p++;
    if (input[p] === '+' || input[p] === '-') p++;
    while (p < input.length && '0123456789_'.includes(input[p])) p++;
  }
  if (input[p] === 'i') p++;
  // a number followed by alphanumerics is a bad number ("3k"): take them so the parser refuses it
  if (p < input.length && isAlnum(input[p])) {
    while (p < input.length && (isAlnum(input[p]) || input[p] === '.')) p++;
    if (p === start) p++;
  }
  return p;
}
