/**
 * The first pass over a Dockerfile, as BuildKit's frontend/dockerfile/parser does it: parser
 * directives (`# escape=`, `# syntax=`, `# check=`), comments, line continuations (the escape
 * character ending a line; comment and blank lines inside a continued instruction are skipped),
 * the instruction keyword, its `--flags`, and the arguments in the shape each instruction takes
 * (JSON array or not, words, key/value pairs), then heredocs (`<<EOF` in RUN, COPY and ADD).
 * Instructions are checked and typed in instructions.ts.
 */
import { processWords } from './shell-lex';
import { goQuote } from '@gantry/format';
import { isSpace, splitOnce, trimLeftSpace, trimSpace, WHITESPACE_RUN } from './text';

/** A heredoc attached to an instruction: `<<EOF`, `<<-EOF` (tabs chomped), `<<"EOF"` (not expanded), `3<<EOF`. */
export interface Heredoc {
  name: string;
  fileDescriptor: number;
  /** false when any part of the delimiter was quoted: the content is taken literally. */
  expand: boolean;
  /** `<<-`: leading tabs are removed from the content and the delimiter line. */
  chomp: boolean;
  /** The lines up to the delimiter, each with its newline. */
  content: string;
}

/** One instruction as the first pass sees it. */
export interface RawNode {
  /** The keyword as written (`run`, `RUN`). */
  keyword: string;
  /** `--name=value` words before the arguments, unquoted. */
  flags: string[];
  /** The arguments, shaped by the instruction (see the dispatch table). */
  args: string[];
  /** The arguments were a JSON array (exec form). */
  json: boolean;
  /** The instruction's text, continuation lines joined (what `Step N/M :` prints). */
  original: string;
  heredocs: Heredoc[];
  startLine: number;
  endLine: number;
  /** ONBUILD's trigger instruction. */
  child?: RawNode;
}

export interface ParsedLines {
  nodes: RawNode[];
  escapeChar: string;
  directives: Record<string, string>;
  warnings: string[];
}

/** A first-pass failure: the message and the lines it concerns. */
export class LineError extends Error {
  constructor(
    readonly reason: string,
    readonly startLine: number,
    readonly endLine: number = startLine,
  ) {
    super(reason);
  }
}

/** Docker's bufio.Scanner refuses longer lines (64 KiB token, newline included). */
const MAX_LINE_BYTES = 65535;

const NO_FLAGS: string[] = [];
const NOT_STRING_ARRAY = 'when using JSON array syntax, arrays must be comprised of strings only';

type ArgParser = (rest: string, escape: string) => { args: string[]; json?: boolean; child?: RawNode };

const DISPATCH = new Map<string, ArgParser>(
  Object.entries<ArgParser>({
    add: maybeJSONToList,
    arg: (rest, esc) => ({ args: parseWords(rest, esc) }),
    cmd: maybeJSON,
    copy: maybeJSONToList,
    entrypoint: maybeJSON,
    env: (rest, esc) => ({ args: nameVal(rest, 'ENV', esc) }),
    expose: (rest) => ({ args: whitespaceDelimited(rest) }),
    from: (rest) => ({ args: whitespaceDelimited(rest) }),
    healthcheck: healthConfig,
    label: (rest, esc) => ({ args: nameVal(rest, 'LABEL', esc) }),
    maintainer: plainString,
    onbuild: subCommand,
    run: maybeJSON,
    shell: maybeJSON,
    stopsignal: plainString,
    user: plainString,
    volume: maybeJSONToList,
    workdir: plainString,
  }),
);

const HEREDOC_INSTRUCTIONS = new Set(['add', 'copy', 'run']);
const HEREDOC_WORD = /^([0-9]*)<<(-?)[\t\n\f\r ]*([^<]*)$/;
const KNOWN_DIRECTIVES = new Set(['syntax', 'escape', 'check']);

const isDirectiveSpace = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\f' || c === '\r';

/**
 * `name = value` after a directive's `#`: what Docker's `^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`
 * matches, scanned by hand (that expression backtracks quadratically in JavaScript; RE2 does not).
 */
function directiveLine(s: string): { name: string; value: string } | undefined {
  const name = /^[a-zA-Z][a-zA-Z0-9]*/.exec(s)?.[0];
  if (name === undefined) return undefined;
  let i = name.length;
  while (isDirectiveSpace(s[i])) i++;
  if (s[i] !== '=') return undefined;
  const eq = ++i;
  while (isDirectiveSpace(s[i])) i++;
  let end = s.length;
  while (end > i && isDirectiveSpace(s[end - 1])) end--;
  // all blanks after `=`: the lazy group still takes the last one
  if (end === i) return i > eq ? { name, value: s[i - 1]! } : undefined;
  return { name, value: s.slice(i, end) };
}

/** Split into lines as Go's scanner does, each keeping its "\n". */
function splitLines(text: string): string[] {
  const lines: string[] = [];
  let start = 0;
  for (;;) {
    const nl = text.indexOf('\n', start);
    if (nl < 0) break;
    lines.push(text.slice(start, nl + 1));
    start = nl + 1;
  }
  if (start < text.length) lines.push(text.slice(start));
  return lines;
}

function trimNewline(s: string): string {
  let j = s.length;
  while (j > 0 && (s[j - 1] === '\n' || s[j - 1] === '\r')) j--;
  return s.slice(0, j);
}

function isComment(line: string): boolean {
  return trimLeftSpace(line).startsWith('#');
}

function byteLength(s: string): number {
  return s.length * 3 <= MAX_LINE_BYTES ? s.length : Buffer.byteLength(s, 'utf8');
}

export function parseLines(text: string): ParsedLines {
  if (text.startsWith('\ufeff')) text = text.slice(1);
  let lines = splitLines(text);
  // Go's scanner stops at a line it cannot hold: what came before is parsed, then the error stands
  let tooLong: number | undefined;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (byteLength(l.endsWith('\n') ? l.slice(0, -1) : l) > MAX_LINE_BYTES) {
      tooLong = i;
      lines = lines.slice(0, i);
      break;
    }
  }

  let escape = '\\';
  const directives: Record<string, string> = {};
  let directivesDone = false;
  const warnings: string[] = [];
  const nodes: RawNode[] = [];

  /** A parser directive, if the line is one while directives are still read. */
  const directive = (line: string, lineNo: number): boolean => {
    if (directivesDone) return false;
    if (!line.startsWith('#')) {
      directivesDone = true;
      return false;
    }
    const m = directiveLine(trimLeftSpace(line.slice(1)));
    const key = m?.name.toLowerCase();
    if (!m || !KNOWN_DIRECTIVES.has(key!)) {
      directivesDone = true;
      return false;
    }
    if (key! in directives) throw new LineError(`only one ${key} parser directive can be used`, lineNo);
    directives[key!] = m.value;
    if (key === 'escape') {
      if (m.value !== '`' && m.value !== '\\') throw new LineError(`invalid escape token '${m.value}' does not match \` or \\`, lineNo);
      escape = m.value;
    }
    return true;
  };

  /** Remove a continuation escape (and the blanks after it) from the end of a line. */
  const continuation = (line: string): [string, boolean] => {
    let j = line.length;
    while (j > 0 && (line[j - 1] === ' ' || line[j - 1] === '\t')) j--;
    if (j > 0 && line[j - 1] === escape && (j === 1 || line[j - 2] !== escape)) return [line.slice(0, j - 1), false];
    return [line, true];
  };

  let i = 0;
  let current = 0;
  while (i < lines.length) {
    const raw = lines[i++]!;
    let line = trimLeftSpace(trimNewline(raw));
    directive(line, current + 1);
    if (isComment(line)) line = '';
    current++;
    const startLine = current;
    let [buf, eol] = continuation(line);
    if (eol && buf.length === 0) continue;

    let emptyContinuation = false;
    while (!eol && i < lines.length) {
      const next = lines[i++]!;
      current++;
      if (isComment(next)) continue;
      const body = trimNewline(next);
      if (trimLeftSpace(body).length === 0) {
        emptyContinuation = true;
        continue;
      }
      let part: string;
      [part, eol] = continuation(body);
      buf += part;
    }
    if (emptyContinuation) warnings.push(`Empty continuation line found in: ${buf}`);

    let node: RawNode;
    try {
      node = nodeFromLine(buf, escape);
    } catch (e) {
      if (e instanceof LineError) throw new LineError(e.reason, startLine, current);
      throw e;
    }

    if (canContainHeredoc(node) && buf.includes('<<')) {
      let docs: Heredoc[];
      try {
        docs = heredocsFromLine(buf);
      } catch (e) {
        if (e instanceof LineError) throw new LineError(e.reason, startLine, current);
        throw e;
      }
      for (const doc of docs) {
        let terminated = false;
        let content = '';
        while (i < lines.length) {
          const l = lines[i++]!;
          current++;
          let candidate = trimNewline(l);
          if (doc.chomp) candidate = candidate.replace(/^\t+/, '');
          if (candidate === doc.name) {
            terminated = true;
            break;
          }
          content += l;
        }
        if (!terminated) throw new LineError('unterminated heredoc', startLine, current);
        node.heredocs.push({ ...doc, content });
      }
    }
    node.startLine = startLine;
    node.endLine = current;
    nodes.push(node);
  }

  if (nodes.length === 0) throw new LineError('file with no instructions', Math.max(current, 1));
  if (tooLong !== undefined) throw new LineError(`dockerfile line greater than max allowed size of ${MAX_LINE_BYTES}`, tooLong + 1);
  return { nodes, escapeChar: escape, directives, warnings };
}

function canContainHeredoc(node: RawNode): boolean {
  const n = node.keyword.toLowerCase() === 'onbuild' && node.child ? node.child : node;
  return HEREDOC_INSTRUCTIONS.has(n.keyword.toLowerCase()) && !n.json;
}

/** Split an instruction's text into keyword, flags and the arguments its parser shapes. */
function nodeFromLine(line: string, escape: string): RawNode {
  const parts = splitOnce(trimSpace(line));
  const keyword = parts[0];
  let args = '';
  let flags: string[] = NO_FLAGS;
  if (parts.length === 2) {
    const rest = parts[1];
    // the common case, no `--flag`, without the flag scanner
    if (rest.startsWith('--') || isSpace(rest[0]!)) [args, flags] = extractFlags(rest, escape);
    else args = rest;
  }
  const parse = DISPATCH.get(keyword.toLowerCase());
  // unknown instructions are reported by the second pass, with the line
  const parsed = parse ? parse(trimSpace(args), escape) : { args: [] };
  const node: RawNode = {
    keyword,
    flags,
    args: parsed.args,
    json: parsed.json ?? false,
    original: line,
    heredocs: [],
    startLine: 0,
    endLine: 0,
  };
  if (parsed.child) node.child = parsed.child;
  return node;
}

/** The leading `--flag[=value]` words (quotes and escapes processed); `--` ends them. */
function extractFlags(line: string, escape: string): [string, string[]] {
  const words: string[] = [];
  let pos = 0;
  for (;;) {
    while (pos < line.length && isSpace(line[pos]!)) pos++;
    if (pos >= line.length) return ['', words];
    if (line[pos] !== '-' || line[pos + 1] !== '-') return [line.slice(pos), words];
    let word = '';
    let quote = '';
    let blankOK = false;
    for (; pos < line.length; pos++) {
      let ch = line[pos]!;
      if (quote === '') {
        if (isSpace(ch)) break;
        if (ch === "'" || ch === '"') {
          quote = ch;
          blankOK = true;
          continue;
        }
      } else if (ch === quote) {
        quote = '';
        continue;
      }
      if (ch === escape) {
        if (pos + 1 === line.length) {
          quote = '';
          continue;
        }
        ch = line[++pos]!;
      }
      word += ch;
    }
    if (word === '--') return [pos < line.length ? line.slice(pos) : '', words];
    if (blankOK || word.length > 0) words.push(word);
  }
}

/** Words separated by white space, quotes and escapes kept for the expansion that follows. */
function parseWords(rest: string, escape: string): string[] {
  const words: string[] = [];
  const chars = Array.from(rest);
  let word = '';
  let inWord = false;
  let quote = '';
  let blankOK = false;
  for (let pos = 0; pos < chars.length; pos++) {
    let ch = chars[pos]!;
    if (!inWord) {
      if (isSpace(ch)) continue;
      inWord = true;
    }
    if (quote === '') {
      if (isSpace(ch)) {
        if (blankOK || word.length > 0) words.push(word);
        word = '';
        blankOK = false;
        inWord = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
      }
      if (ch === escape) {
        if (pos + 1 === chars.length) continue;
        word += ch;
        ch = chars[++pos]!;
      }
      word += ch;
    } else {
      if (ch === quote) quote = '';
      // inside single quotes the escape character is an ordinary one
      if (ch === escape && quote !== "'") {
        if (pos + 1 === chars.length) {
          quote = '';
          continue;
        }
        word += ch;
        ch = chars[++pos]!;
      }
      word += ch;
    }
  }
  if (inWord && (blankOK || word.length > 0)) words.push(word);
  return words;
}

/** ENV and LABEL: `name=value ...`, or the legacy `name value` (the rest of the line, raw). */
function nameVal(rest: string, key: string, escape: string): string[] {
  const words = parseWords(rest, escape);
  if (words.length === 0) return [];
  if (!words[0]!.includes('=')) {
    const parts = splitOnce(rest);
    if (parts.length < 2) throw new LineError(`${key} must have two arguments`, 0);
    return [parts[0], parts[1]!, ''];
  }
  const out: string[] = [];
  for (const word of words) {
    const eq = word.indexOf('=');
    if (eq < 0) throw new LineError(`Syntax error - can't find = in ${goQuote(word)}. Must be of the form: name=value`, 0);
    out.push(word.slice(0, eq), word.slice(eq + 1), '=');
  }
  return out;
}

function whitespaceDelimited(rest: string): string[] {
  return rest === '' ? [] : rest.split(WHITESPACE_RUN);
}

function plainString(rest: string): { args: string[] } {
  return { args: rest === '' ? [] : [rest] };
}

/** A JSON array of strings, undefined when the text is not one; a non-string element is an error. */
function parseJSON(rest: string): string[] | undefined {
  rest = trimLeftSpace(rest);
  if (!rest.startsWith('[')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(rest);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value)) return undefined;
  for (const v of value) if (typeof v !== 'string') throw new LineError(NOT_STRING_ARRAY, 0);
  return value as string[];
}

function maybeJSON(rest: string): { args: string[]; json?: boolean } {
  if (rest === '') return { args: [] };
  const json = parseJSON(rest);
  return json ? { args: json, json: true } : { args: [rest] };
}

function maybeJSONToList(rest: string): { args: string[]; json?: boolean } {
  const json = parseJSON(rest);
  return json ? { args: json, json: true } : { args: whitespaceDelimited(rest) };
}

/** HEALTHCHECK: the type word, then CMD's arguments as CMD takes them. */
function healthConfig(rest: string): { args: string[]; json?: boolean } {
  let sep = 0;
  while (sep < rest.length && !isSpace(rest[sep]!)) sep++;
  if (sep === 0) return { args: [] };
  let next = sep;
  while (next < rest.length && isSpace(rest[next]!)) next++;
  const cmd = maybeJSON(rest.slice(next));
  return { args: [rest.slice(0, sep), ...cmd.args], json: cmd.json };
}

function subCommand(rest: string, escape: string): { args: string[]; child?: RawNode } {
  if (rest === '') return { args: [] };
  const child = nodeFromLine(rest, escape);
  return { args: [child.keyword, ...child.args], child };
}

/** The heredocs an instruction's text opens, in order. */
function heredocsFromLine(line: string): Heredoc[] {
  let words: string[];
  try {
    words = processWords(line, {}, { rawQuotes: true, rawEscapes: true, skipUnsetEnv: true });
  } catch {
    words = [];
  }
  const docs: Heredoc[] = [];
  for (const word of words) {
    const doc = parseHeredoc(word);
    if (doc) docs.push(doc);
  }
  return docs;
}

/** A heredoc word (`<<EOF`, `<<-"EOF"`, `2<<EOF`) or undefined. Exported for COPY/ADD's sources. */
export function parseHeredoc(word: string): Heredoc | undefined {
  const m = HEREDOC_WORD.exec(word);
  if (!m || m[3] === '') return undefined;
  const rest = m[3]!;
  const lex = (rawQuotes: boolean): string[] => {
    try {
      return processWords(rest, {}, { skipUnsetEnv: true, rawQuotes });
    } catch (e) {
      throw new LineError((e as Error).message, 0);
    }
  };
  const words = lex(false);
  if (words.length !== 1) return undefined;
  const raw = lex(true);
  if (raw.length !== words.length) throw new LineError(`internal lexing of heredoc produced inconsistent results: ${rest}`, 0);
  const quotes = (s: string): number => s.split('').filter((c) => c === '"' || c === "'").length;
  return {
    name: words[0]!,
    fileDescriptor: m[1] === '' ? 0 : Number(m[1]),
    expand: quotes(words[0]!) === quotes(raw[0]!),
    chomp: m[2] === '-',
    content: '',
  };
}
