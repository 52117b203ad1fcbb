/**
 * The functions a template may call: Go's builtins (text/template funcs.go) and docker's
 * (docker/cli templates/templates.go: json, split, join, title, lower, upper, pad, truncate).
 * `and` and `or` are evaluated lazily by the executor. A function's error is wrapped by the
 * executor as Go does: `error calling index: index out of range: 5`.
 */
import { TemplateLimitError } from './errors';
import { sprint, sprintf, sprintln, type FmtBudget } from './fmt';
import { goJson, JsonUnsupportedError } from './json';
import { byteLength, isTrue, kindOf, mapGet, mapHas, mapKeys, typeName } from './value';

/** What a parameter accepts; checked before the call with Go's messages. */
export type ParamType = 'any' | 'string' | 'int' | 'strings';

export interface FuncSpec {
  params: ParamType[];
  /** Type of the variadic tail, if any. */
  variadic?: ParamType;
  fn: (args: unknown[], budget: FmtBudget) => unknown;
}

/** A function's own failure (the executor adds `error calling NAME: `). */
class FuncError extends Error {
  override name = 'FuncError';
}

/** A wrong argument type (the executor reports it without `error calling`). */
export class ArgTypeError extends Error {
  override name = 'ArgTypeError';
}

/** Check and convert one argument to a parameter type (Go's validateType, roughly). */
export function checkArg(v: unknown, t: ParamType): unknown {
  if (t === 'any') return v === undefined ? null : v;
  if (v === undefined || v === null) throw new ArgTypeError(`invalid value; expected ${t === 'strings' ? '[]string' : t}`);
  const k = kindOf(v);
  if (t === 'string' && k !== 'string') throw new ArgTypeError(`wrong type for value; expected string; got ${typeName(v)}`);
  if (t === 'int' && k !== 'int') throw new ArgTypeError(`wrong type for value; expected int; got ${typeName(v)}`);
  if (t === 'strings' && (k !== 'slice' || Array.from(v as ArrayLike<unknown>).some((e) => typeof e !== 'string')))
    throw new ArgTypeError(`wrong type for value; expected []string; got ${typeName(v)}`);
  return t === 'int' ? Number(v) : v;
}

// ---------- comparisons ----------

type Basic = 'bool' | 'number' | 'string' | 'nil';

function basicKind(v: unknown): Basic | undefined {
  switch (kindOf(v)) {
    case 'bool':
      return 'bool';
    case 'int':
    case 'float':
      return 'number';
    case 'string':
      return 'string';
    case 'invalid':
    case 'nil':
      return 'nil';
    default:
      return undefined;
  }
}

function eq(args: unknown[]): boolean {
  const [a, ...rest] = args;
  if (rest.length === 0) throw new FuncError('missing argument for comparison');
  const k1 = basicKind(a);
  for (const b of rest) {
    const k2 = basicKind(b);
    if (k1 === undefined || k2 === undefined) {
      if (k1 === 'nil' || k2 === 'nil') continue;
      throw new FuncError(`non-comparable type ${typeName(k1 === undefined ? a : b)}`);
    }
    if (k1 !== k2) {
      if (k1 === 'nil' || k2 === 'nil') continue;
      throw new FuncError('incompatible types for comparison');
    }
    if (k1 === 'nil' || (k1 === 'number' ? Number(a) === Number(b) : a === b)) return true;
  }
  return false;
}

function lt(a: unknown, b: unknown): boolean {
  const k1 = basicKind(a);
  const k2 = basicKind(b);
  if (k1 !== 'number' && k1 !== 'string') throw new FuncError('invalid type for comparison');
  if (k2 !== 'number' && k2 !== 'string') throw new FuncError('invalid type for comparison');
  if (k1 !== k2) throw new FuncError('incompatible types for comparison');
  if (k1 === 'number') return Number(a) < Number(b);
  return byteCompare(a as string, b as string) < 0;
}

/** Go compares strings bytewise; UTF-16 order differs only for astral vs U+E000..U+FFFF. */
function byteCompare(a: string, b: string): number {
  const ea = new TextEncoder().encode(a);
  const eb = new TextEncoder().encode(b);
  for (let i = 0; i < Math.min(ea.length, eb.length); i++) if (ea[i] !== eb[i]) return ea[i] - eb[i];
  return ea.length - eb.length;
}

// ---------- index / slice / len ----------

function toIndex(v: unknown, what: string): number {
  if (kindOf(v) !== 'int') throw new FuncError(`cannot index ${what} with type ${typeName(v)}`);
  return Number(v);
}

function index(args: unknown[]): unknown {
  let item = args[0];
  if (item === null || item === undefined) throw new FuncError('index of untyped nil');
  for (const idx of args.slice(1)) {
    const k = kindOf(item);
    if (k === 'slice' || k === 'string') {
      const n = toIndex(idx, k === 'slice' ? 'slice/array' : 'string');
      const arr = k === 'string' ? new TextEncoder().encode(item as string) : (item as ArrayLike<unknown>);
      if (n < 0 || n >= arr.length) throw new FuncError(`index out of range: ${n}`);
      item = arr[n];
    } else if (k === 'map') {
      if (idx !== null && idx !== undefined && kindOf(idx) !== 'string' && !(item instanceof Map))
        throw new FuncError(`value has type ${typeName(idx)}; should be string`);
      item = mapHas(item, idx) ? mapGet(item, idx) : undefined;
    } else if (k === 'nil' || k === 'invalid') throw new FuncError('index of untyped nil');
    else throw new FuncError(`can't index item of type ${typeName(item)}`);
  }
  return item;
}

function slice(args: unknown[]): unknown {
  const item = args[0];
  const k = kindOf(item);
  if (k === 'nil' || k === 'invalid') throw new FuncError('slice of untyped nil');
  if (args.length > 4) throw new FuncError(`too many slice indexes: ${args.length - 1}`);
  if (k !== 'slice' && k !== 'string') throw new FuncError(`can't slice item of type ${typeName(item)}`);
  if (k === 'string' && args.length === 4) throw new FuncError('cannot 3-index slice a string');
  const bytes = k === 'string' ? new TextEncoder().encode(item as string) : undefined;
  const len = bytes ? bytes.length : (item as ArrayLike<unknown>).length;
  const idx = [0, len, len];
  for (let i = 1; i < args.length; i++) {
    const n = toIndex(args[i], 'slice/array');
    if (n < 0 || n > len) throw new FuncError(`index out of range: ${n}`);
    idx[i - 1] = n;
  }
  if (idx[0] > idx[1]) throw new FuncError(`invalid slice index: ${idx[0]} > ${idx[1]}`);
  if (args.length === 4 && idx[1] > idx[2]) throw new FuncError(`invalid slice index: ${idx[1]} > ${idx[2]}`);
  if (bytes) return new TextDecoder().decode(bytes.subarray(idx[0], idx[1]));
  return Array.from(item as ArrayLike<unknown>).slice(idx[0], idx[1]);
}

function len(v: unknown): number {
  switch (kindOf(v)) {
    case 'string':
      return byteLength(v as string);
    case 'slice':
      return (v as ArrayLike<unknown>).length;
    case 'map':
      return mapKeys(v).length;
    case 'invalid':
    case 'nil':
      throw new FuncError('len of nil pointer');
    default:
      throw new FuncError(`len of type ${typeName(v)}`);
  }
}

// ---------- escapers ----------

/** Go's evalArgs for the escapers: one string argument as is, otherwise fmt.Sprint. */
function escArg(args: unknown[], budget: FmtBudget): string {
  if (args.length === 1 && typeof args[0] === 'string') return args[0];
  return sprint(args, budget);
}

function htmlEscape(s: string): string {
  return s.replace(/[\0"'&<>]/g, (c) => ({ '\0': '\ufffd', '"': '&#34;', "'": '&#39;', '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c] ?? c);
}

function jsEscape(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    if (ch === '\\') out += '\\\\';
    else if (ch === "'") out += "\\'";
    else if (ch === '"') out += '\\"';
    else if ('<>&=`'.includes(ch)) out += '\\u' + c.toString(16).toUpperCase().padStart(4, '0');
    else if (c < 0x20 || (c >= 0x7f && c < 0xa0) || c === 0x2028 || c === 0x2029) out += '\\u' + c.toString(16).toUpperCase().padStart(4, '0');
    else out += ch;
  }
  return out;
}

function urlQueryEscape(s: string): string {
  let out = '';
  for (const b of new TextEncoder().encode(s)) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c;
    else if (c === ' ') out += '+';
    else out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

// ---------- docker's string functions ----------

function isSeparator(c: string): boolean {
  if (c <= '\x7f') return !/[A-Za-z0-9_]/.test(c);
  if (/\p{L}|\p{Nd}/u.test(c)) return false;
  return /\s/u.test(c);
}

/** Go's strings.Title: the first letter of each word to title case. */
function title(s: string): string {
  let prev = ' ';
  let out = '';
  for (const ch of s) {
    out += isSeparator(prev) ? oneRune(ch, ch.toUpperCase()) : ch;
    prev = ch;
  }
  return out;
}

/** Go maps case rune by rune: a mapping that is not one rune (ß → SS) leaves the rune alone. */
function oneRune(ch: string, mapped: string): string {
  return [...mapped].length === 1 ? mapped : ch;
}

function mapRunes(s: string, f: (c: string) => string): string {
  let out = '';
  for (const ch of s) out += oneRune(ch, f(ch));
  return out;
}

function repeat(n: number, budget: FmtBudget): string {
  if (n < 0) throw new FuncError('strings: negative Repeat count');
  if (n > budget.maxOutput) throw new TemplateLimitError('maxOutput', budget.maxOutput);
  return ' '.repeat(n);
}

function truncate(s: string, n: number): string {
  const bytes = new TextEncoder().encode(s);
  if (bytes.length < n) return s;
  if (n < 0) throw new FuncError(`runtime error: slice bounds out of range [:${n}]`);
  return new TextDecoder().decode(bytes.subarray(0, n));
}

function split(s: string, sep: string): string[] {
  if (sep === '') return [...s];
  return s.split(sep);
}

function json(v: unknown, budget: FmtBudget): string {
  try {
    return goJson(v, budget);
  } catch (e) {
    // docker ignores the encoder's error: the function prints nothing
    if (e instanceof JsonUnsupportedError) return '';
    throw e;
  }
}

export const BUILTINS: Record<string, FuncSpec> = {
  and: { params: ['any'], variadic: 'any', fn: () => undefined },
  or: { params: ['any'], variadic: 'any', fn: () => undefined },
  not: { params: ['any'], fn: ([a]) => !isTrue(a) },
  len: { params: ['any'], fn: ([a]) => len(a) },
  index: { params: ['any'], variadic: 'any', fn: (a) => index(a) },
  slice: { params: ['any'], variadic: 'any', fn: (a) => slice(a) },
  print: { params: [], variadic: 'any', fn: (a, b) => sprint(a, b) },
  printf: { params: ['string'], variadic: 'any', fn: ([f, ...a], b) => sprintf(f as string, a, b) },
  println: { params: [], variadic: 'any', fn: (a, b) => sprintln(a, b) },
  eq: { params: ['any'], variadic: 'any', fn: (a) => eq(a) },
  ne: { params: ['any', 'any'], fn: ([a, b]) => !eq([a, b]) },
  lt: { params: ['any', 'any'], fn: ([a, b]) => lt(a, b) },
  le: { params: ['any', 'any'], fn: ([a, b]) => lt(a, b) || eq([a, b]) },
  gt: { params: ['any', 'any'], fn: ([a, b]) => !(lt(a, b) || eq([a, b])) },
  ge: { params: ['any', 'any'], fn: ([a, b]) => !lt(a, b) },
  html: { params: [], variadic: 'any', fn: (a, b) => htmlEscape(escArg(a, b)) },
  js: { params: [], variadic: 'any', fn: (a, b) => jsEscape(escArg(a, b)) },
  urlquery: { params: [], variadic: 'any', fn: (a, b) => urlQueryEscape(escArg(a, b)) },
};

export const DOCKER_FUNCS: Record<string, FuncSpec> = {
  json: { params: ['any'], fn: ([v], b) => json(v, b) },
  split: { params: ['string', 'string'], fn: ([s, sep]) => split(s as string, sep as string) },
  join: { params: ['strings', 'string'], fn: ([a, sep]) => (a as string[]).join(sep as string) },
  title: { params: ['string'], fn: ([s]) => title(s as string) },
  lower: { params: ['string'], fn: ([s]) => mapRunes(s as string, (c) => c.toLowerCase()) },
  upper: { params: ['string'], fn: ([s]) => mapRunes(s as string, (c) => c.toUpperCase()) },
  pad: {
    params: ['string', 'int', 'int'],
    fn: ([s, p, q], b) => (s === '' ? '' : repeat(p as number, b) + (s as string) + repeat(q as number, b)),
  },
  truncate: { params: ['string', 'int'], fn: ([s, n]) => truncate(s as string, n as number) },
};

/**
 * docker's HeaderFunctions: executing a table format over the header row, these return their
 * string argument unchanged, so `{{upper .Name}}` heads its column with the header name (pad stays).
 */
export const DOCKER_HEADER_FUNCS: Record<string, FuncSpec> = {
  json: { params: ['string'], fn: ([v]) => v },
  split: { params: ['string', 'string'], fn: ([v]) => v },
  join: { params: ['string', 'string'], fn: ([v]) => v },
  title: { params: ['string'], fn: ([v]) => v },
  lower: { params: ['string'], fn: ([v]) => v },
  upper: { params: ['string'], fn: ([v]) => v },
  truncate: { params: ['string', 'int'], fn: ([v]) => v },
};
