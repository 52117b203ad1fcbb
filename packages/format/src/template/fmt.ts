/**
 * The part of Go's fmt that templates reach: %v printing of values (print, println, and what an
 * action prints) and Printf's verbs (%v %s %d %q %x %X %o %b %c %U %t %e %f %g %%, flags
 * `+ - # 0 space`, width and precision, `*`), with Go's `%!d(string=x)` / `%!d(MISSING)` /
 * `%!(EXTRA ...)` for mistakes. JS numbers: integers format as Go ints, others as float64; the
 * float verbs accept integers too (Go would print `%!f(int=3)` for an int constant).
 */
import { TemplateLimitError } from './errors';
import { goQuote, goQuoteRune } from './quote';
import { isExported, kindOf, mapGet, mapKeys, structFields, typeName } from './value';

/** Bounds for one formatting call: width/precision and nesting. */
export interface FmtBudget {
  maxOutput: number;
  maxDepth: number;
}

// ---------- floats ----------

/** The exact decimal expansion of a finite |v|: digits (no leading/trailing zeros) and the point's position. */
function exactDecimal(v: number): { digs: string; dp: number } {
  const dv = new DataView(new ArrayBuffer(8));
  dv.setFloat64(0, Math.abs(v));
  const bits = dv.getBigUint64(0);
  const exp = Number((bits >> 52n) & 0x7ffn);
  let mant = bits & 0xfffffffffffffn;
  if (exp !== 0) mant |= 1n << 52n;
  if (mant === 0n) return { digs: '0', dp: 1 };
  const e = (exp === 0 ? 1 : exp) - 1075;
  let str: string;
  let dp: number;
  if (e >= 0) {
    str = (mant << BigInt(e)).toString();
    dp = str.length;
  } else {
    // mant * 2^e = mant * 5^-e / 10^-e
    str = (mant * 5n ** BigInt(-e)).toString();
    dp = str.length + e;
  }
  const lead = str.length - str.replace(/^0+/, '').length;
  return { digs: str.slice(lead).replace(/0+$/, '') || '0', dp: dp - lead };
}

/** Round exact digits to `keep` digits (may be <= 0), half to even as Go's strconv. */
function roundDigits(digs: string, dp: number, keep: number): { digs: string; dp: number } {
  if (keep >= digs.length) return { digs, dp };
  if (keep < 0) return { digs: '0', dp: 1 };
  const next = digs.charCodeAt(keep) - 48;
  const rest = digs.slice(keep + 1);
  const prev = keep > 0 ? digs.charCodeAt(keep - 1) - 48 : 0;
  const up = next > 5 || (next === 5 && (/[1-9]/.test(rest) || prev % 2 === 1));
  let kept = digs.slice(0, keep);
  if (up) {
    const n = (BigInt(kept || '0') + 1n).toString();
    if (n.length > kept.length) {
      dp++;
      kept = n.slice(0, Math.max(keep, 1));
      if (keep === 0) kept = '1';
    } else kept = n.padStart(keep, '0');
  }
  kept = kept.replace(/0+$/, '');
  return kept === '' ? { digs: '0', dp: 1 } : { digs: kept, dp };
}

/** Digits (no trailing zeros) and decimal point position of |v|, shortest or rounded to `sig` digits. */
function decimalDigits(v: number, sig: number): { digs: string; dp: number } {
  if (sig < 0) {
    const [m, x] = Math.abs(v).toExponential().split('e');
    const digs = m.replace('.', '').replace(/0+$/, '') || '0';
    return { digs, dp: digs === '0' ? 1 : Number(x) + 1 };
  }
  const ex = exactDecimal(v);
  if (ex.digs === '0') return ex;
  return roundDigits(ex.digs, ex.dp, Math.max(sig, 1));
}

function fmtE(neg: boolean, digs: string, prec: number, e: 'e' | 'E', dp: number): string {
  let s = (neg ? '-' : '') + digs[0];
  if (prec > 0) s += '.' + digs.slice(1, 1 + prec).padEnd(prec, '0');
  const exp = digs === '0' ? 0 : dp - 1;
  const ae = Math.abs(exp);
  return s + e + (exp < 0 ? '-' : '+') + (ae < 10 ? '0' : '') + String(ae);
}

function fmtF(neg: boolean, digs: string, dp: number, frac: number): string {
  let s = neg ? '-' : '';
  if (dp > 0) s += digs.slice(0, dp).padEnd(dp, '0');
  else s += '0';
  if (frac > 0) {
    s += '.';
    for (let i = 0; i < frac; i++) {
      const j = dp + i;
      s += j >= 0 && j < digs.length ? digs[j] : '0';
    }
  }
  return s;
}

/** %f with `prec` decimals (round half to even on exact ties, as Go). */
function fixed(v: number, prec: number): string {
  const neg = v < 0 || Object.is(v, -0);
  const ex = exactDecimal(v);
  const r = ex.digs === '0' ? ex : roundDigits(ex.digs, ex.dp, ex.dp + prec);
  return fmtF(neg, r.digs, r.dp, prec);
}

/** strconv.FormatFloat(v, verb, prec, 64); prec -1 is the shortest representation. */
export function formatFloat(v: number, verb: 'e' | 'E' | 'f' | 'g' | 'G', prec: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  const neg = v < 0 || Object.is(v, -0);
  if (verb === 'f') {
    if (prec >= 0) return fixed(v, prec);
    const { digs, dp } = decimalDigits(v, -1);
    return fmtF(neg, digs, dp, Math.max(digs.length - dp, 0));
  }
  if (verb === 'e' || verb === 'E') {
    if (prec < 0) {
      const { digs, dp } = decimalDigits(v, -1);
      return fmtE(neg, digs, digs.length - 1, verb, dp);
    }
    const { digs, dp } = decimalDigits(v, prec + 1);
    return fmtE(neg, digs, prec, verb, dp);
  }
  const shortest = prec < 0;
  let p = prec === 0 ? 1 : prec;
  const { digs, dp } = decimalDigits(v, shortest ? -1 : p);
  if (shortest) p = digs.length;
  let eprec = p;
  if (eprec > digs.length && digs.length >= dp) eprec = digs.length;
  if (shortest) eprec = 6;
  const exp = dp - 1;
  if (exp < -4 || exp >= eprec) {
    if (p > digs.length) p = digs.length;
    return fmtE(neg, digs, p - 1, verb === 'g' ? 'e' : 'E', dp);
  }
  if (p > dp) p = digs.length;
  return fmtF(neg, digs, dp, Math.max(p - dp, 0));
}

function intString(v: number | bigint): string {
  return typeof v === 'bigint' ? v.toString() : Number.isSafeInteger(v) ? String(v) : BigInt(v).toString();
}

// ---------- %v ----------

/** fmt.Sprint of one value with %v (what an action prints). */
export function formatV(v: unknown, budget: FmtBudget, depth = 0, plus = false): string {
  if (depth > budget.maxDepth) throw new TemplateLimitError('maxDepth', budget.maxDepth);
  switch (kindOf(v)) {
    case 'invalid':
      return '<no value>';
    case 'nil':
      return '<nil>';
    case 'bool':
      return String(v);
    case 'int':
      return intString(v as number | bigint);
    case 'float':
      return formatFloat(Number(v), 'g', -1);
    case 'string':
      return typeof v === 'symbol' ? v.toString() : (v as string);
    case 'func':
      return '<func>';
    case 'slice':
      return '[' + seq(Array.from(v as ArrayLike<unknown>), (x) => (x === undefined ? '<nil>' : formatV(x, budget, depth + 1, plus)), budget) + ']';
    case 'map':
      return (
        'map[' +
        seq(mapKeys(v), (k) => `${formatV(k, budget, depth + 1, plus)}:${elem(mapGet(v, k), (x) => formatV(x, budget, depth + 1, plus))}`, budget) +
        ']'
      );
    case 'struct': {
      if (v instanceof Date) return v.toISOString();
      return '{' + seq(structFields(v as object), ([k, x]) => (plus ? `${k}:` : '') + elem(x, (y) => formatV(y, budget, depth + 1, plus)), budget) + '}';
    }
  }
}

/** Elements of containers: a nil there prints <nil>, as an interface{} element does. */
function elem(x: unknown, f: (x: unknown) => string): string {
  return x === undefined || x === null ? '<nil>' : f(x);
}

function seq<T>(items: T[], f: (x: T) => string, budget: FmtBudget): string {
  let out = '';
  for (let i = 0; i < items.length; i++) {
    if (i > 0) out += ' ';
    out += f(items[i]);
    if (out.length > budget.maxOutput) throw new TemplateLimitError('maxOutput', budget.maxOutput);
  }
  return out;
}

/** fmt.Sprint: operands joined, with a space between two operands when neither is a string. */
export function sprint(args: unknown[], budget: FmtBudget): string {
  let out = '';
  for (let i = 0; i < args.length; i++) {
    const isStr = kindOf(args[i]) === 'string';
    if (i > 0 && !isStr && kindOf(args[i - 1]) !== 'string') out += ' ';
    out += args[i] === undefined ? '<nil>' : formatV(args[i], budget);
  }
  return out;
}

/** fmt.Sprintln: operands joined with spaces, and a newline. */
export function sprintln(args: unknown[], budget: FmtBudget): string {
  return args.map((a) => (a === undefined ? '<nil>' : formatV(a, budget))).join(' ') + '\n';
}

// ---------- Printf ----------

interface Spec {
  minus: boolean;
  plus: boolean;
  sharp: boolean;
  zero: boolean;
  space: boolean;
  width?: number;
  prec?: number;
}

function runeLen(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function pad(s: string, spec: Spec, numeric: boolean): string {
  const w = spec.width ?? 0;
  const n = runeLen(s);
  if (n >= w) return s;
  if (spec.minus) return s + ' '.repeat(w - n);
  if (spec.zero && numeric) {
    const sign = /^[+\- ]/.test(s) ? s[0] : '';
    return sign + '0'.repeat(w - n) + s.slice(sign.length);
  }
  return ' '.repeat(w - n) + s;
}

function badVerb(verb: string, v: unknown, budget: FmtBudget): string {
  if (v === null || v === undefined) return `%!${verb}(<nil>)`;
  return `%!${verb}(${typeName(v)}=${formatV(v, budget)})`;
}

function signed(s: string, neg: boolean, spec: Spec): string {
  if (neg) return '-' + s;
  if (spec.plus) return '+' + s;
  if (spec.space) return ' ' + s;
  return s;
}

function formatInt(v: number | bigint, verb: string, spec: Spec, budget: FmtBudget): string {
  const big = typeof v === 'bigint' ? v : BigInt(v);
  const neg = big < 0n;
  const a = neg ? -big : big;
  let body: string;
  switch (verb) {
    case 'v':
    case 'd':
      body = a.toString();
      break;
    case 'b':
      body = a.toString(2);
      break;
    case 'o':
      body = (spec.sharp ? '0' : '') + a.toString(8);
      break;
    case 'O':
      body = '0o' + a.toString(8);
      break;
    case 'x':
      body = (spec.sharp ? '0x' : '') + a.toString(16);
      break;
    case 'X':
      body = (spec.sharp ? '0X' : '') + a.toString(16).toUpperCase();
      break;
    case 'c':
      return pad(a <= 0x10ffffn && !neg ? String.fromCodePoint(Number(a)) : '\ufffd', spec, false);
    case 'q':
      return pad(a <= 0x10ffffn && !neg ? goQuoteRune(Number(a)) : "'\ufffd'", spec, false);
    case 'U':
      return pad('U+' + a.toString(16).toUpperCase().padStart(4, '0'), spec, false);
    case 'e':
    case 'E':
    case 'f':
    case 'F':
    case 'g':
    case 'G':
      return formatFloatVerb(Number(v), verb, spec);
    default:
      return badVerb(verb, v, budget);
  }
  if (spec.prec !== undefined) body = body.padStart(spec.prec, '0');
  return pad(signed(body, neg, spec), spec, spec.prec === undefined);
}

function formatFloatVerb(v: number, verb: string, spec: Spec): string {
  const f = (verb === 'F' ? 'f' : verb === 'v' ? 'g' : verb) as 'e' | 'E' | 'f' | 'g' | 'G';
  const prec = spec.prec ?? (f === 'e' || f === 'E' || f === 'f' ? 6 : -1);
  let s = formatFloat(Math.abs(v), f, prec);
  if (s === 'NaN' || s.endsWith('Inf')) {
    const sign = s === 'NaN' ? '' : v < 0 ? '-' : spec.plus ? '+' : '';
    return pad(sign + s.replace('+', ''), { ...spec, zero: false }, false);
  }
  s = signed(s, v < 0 || Object.is(v, -0), spec);
  return pad(s, spec, true);
}

/** strconv.CanBackquote: no backquote and no control character but tab. */
function canBackquote(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x60 || c === 0x7f || (c < 0x20 && c !== 0x09)) return false;
  }
  return true;
}

function formatString(s: string, verb: string, spec: Spec, budget: FmtBudget): string {
  if (spec.prec !== undefined) s = [...s].slice(0, spec.prec).join('');
  switch (verb) {
    case 'v':
    case 's':
      return pad(s, spec, false);
    case 'q':
      if (spec.sharp && canBackquote(s)) return pad('`' + s + '`', spec, false);
      return pad(goQuote(s), spec, false);
    case 'x':
    case 'X': {
      const bytes = new TextEncoder().encode(s);
      const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0'));
      let out = spec.space ? hex.map((h) => (spec.sharp ? '0x' : '') + h).join(' ') : (spec.sharp && hex.length ? '0x' : '') + hex.join('');
      if (verb === 'X') out = out.toUpperCase();
      return pad(out, spec, false);
    }
    default:
      return badVerb(verb, s, budget);
  }
}

/** One operand with one verb. */
function formatArg(v: unknown, verb: string, spec: Spec, budget: FmtBudget, depth: number): string {
  if (verb === 'T') return pad(v === undefined || v === null ? '<nil>' : typeName(v), spec, false);
  if (depth > budget.maxDepth) throw new TemplateLimitError('maxDepth', budget.maxDepth);
  switch (kindOf(v)) {
    case 'invalid':
    case 'nil':
      return verb === 'v' ? pad('<nil>', spec, false) : badVerb(verb, v, budget);
    case 'bool':
      return verb === 'v' || verb === 't' ? pad(String(v), spec, false) : badVerb(verb, v, budget);
    case 'int':
      return formatInt(v as number | bigint, verb, spec, budget);
    case 'float':
      return 'vbeEfFgGxX'.includes(verb) && verb !== 'b' && verb !== 'x' && verb !== 'X' ? formatFloatVerb(Number(v), verb, spec) : badVerb(verb, v, budget);
    case 'string':
      return formatString(String(v), verb, spec, budget);
    case 'func':
      return pad('<func>', spec, false);
    case 'slice': {
      const items = Array.from(v as ArrayLike<unknown>);
      const inner = { ...spec, width: undefined };
      return pad('[' + seq(items, (x) => formatArg(x, verb, inner, budget, depth + 1), budget) + ']', { ...spec, width: undefined }, false);
    }
    case 'map': {
      const inner = { ...spec, width: undefined };
      return (
        'map[' +
        seq(mapKeys(v), (k) => `${formatArg(k, verb, inner, budget, depth + 1)}:${formatArg(mapGet(v, k), verb, inner, budget, depth + 1)}`, budget) +
        ']'
      );
    }
    case 'struct': {
      if (verb === 'v' || verb === 's') {
        if (v instanceof Date) return pad(v.toISOString(), spec, false);
        const inner = { ...spec, width: undefined };
        return (
          '{' +
          seq(structFields(v as object), ([k, x]) => (spec.plus && isExported(k) ? `${k}:` : '') + formatArg(x, verb, inner, budget, depth + 1), budget) +
          '}'
        );
      }
      return badVerb(verb, v, budget);
    }
  }
}

/** fmt.Sprintf. `args` are template values (undefined is a nil interface here). */
export function sprintf(format: string, args: unknown[], budget: FmtBudget): string {
  let out = '';
  let argi = 0;
  const check = (n: number): void => {
    if (n > budget.maxOutput) throw new TemplateLimitError('maxOutput', budget.maxOutput);
  };
  for (let i = 0; i < format.length;) {
    const pct = format.indexOf('%', i);
    if (pct < 0) {
      out += format.slice(i);
      break;
    }
    out += format.slice(i, pct);
    i = pct + 1;
    const spec: Spec = { minus: false, plus: false, sharp: false, zero: false, space: false };
    for (; i < format.length; i++) {
      const c = format[i];
      if (c === '-') spec.minus = true;
      else if (c === '+') spec.plus = true;
      else if (c === '#') spec.sharp = true;
      else if (c === '0') spec.zero = !spec.minus;
      else if (c === ' ') spec.space = true;
      else break;
    }
    const num = (): number | undefined => {
      if (format[i] === '*') {
        i++;
        const a = args[argi++];
        if (typeof a !== 'number' || !Number.isInteger(a)) return NaN;
        return a;
      }
      const m = /^[0-9]+/.exec(format.slice(i, i + 12));
      if (!m) return undefined;
      i += m[0].length;
      return Number(m[0]);
    };
    const w = num();
    if (w !== undefined) {
      if (Number.isNaN(w)) out += '%!(BADWIDTH)';
      else if (w < 0) {
        spec.minus = true;
        spec.width = -w;
      } else spec.width = w;
    }
    if (format[i] === '.') {
      i++;
      const p = num();
      if (p !== undefined && Number.isNaN(p)) out += '%!(BADPREC)';
      else spec.prec = p === undefined || p < 0 ? 0 : p;
    }
    check((spec.width ?? 0) + (spec.prec ?? 0));
    if (i >= format.length) {
      out += '%!(NOVERB)';
      break;
    }
    const verb = String.fromCodePoint(format.codePointAt(i) ?? 0);
    i += verb.length;
    if (verb === '%') {
      out += '%';
      continue;
    }
    if (argi >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    out += formatArg(args[argi++], verb, spec, budget, 0);
    check(out.length);
  }
  if (argi < args.length) {
    out +=
      '%!(EXTRA ' +
      args
        .slice(argi)
        .map((a) => (a === undefined || a === null ? '<nil>' : `${typeName(a)}=${formatV(a, budget)}`))
        .join(', ') +
      ')';
  }
  return out;
}
