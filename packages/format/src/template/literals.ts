/** Go's literal syntax in templates: interpreted and raw strings, character constants, numbers. */

const SIMPLE_ESCAPES: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 92 };

/** The body of a Go quoted literal (without its quotes), or undefined if it is malformed. */
function unescape(body: string, quote: '"' | "'"): string | undefined {
  const bytes: number[] = [];
  const enc = new TextEncoder();
  for (let i = 0; i < body.length;) {
    const c = body[i];
    if (c !== '\\') {
      const cp = body.codePointAt(i) ?? 0;
      const ch = String.fromCodePoint(cp);
      if (ch === quote || ch === '\n') return undefined;
      bytes.push(...enc.encode(ch));
      i += ch.length;
      continue;
    }
    const e = body[i + 1];
    if (e === undefined) return undefined;
    if (e in SIMPLE_ESCAPES) {
      bytes.push(SIMPLE_ESCAPES[e]);
      i += 2;
    } else if (e === quote) {
      bytes.push(quote.charCodeAt(0));
      i += 2;
    } else if (e === 'x') {
      const h = body.slice(i + 2, i + 4);
      if (!/^[0-9a-fA-F]{2}$/.test(h)) return undefined;
      bytes.push(parseInt(h, 16));
      i += 4;
    } else if (e >= '0' && e <= '7') {
      const o = body.slice(i + 1, i + 4);
      if (!/^[0-7]{3}$/.test(o) || parseInt(o, 8) > 255) return undefined;
      bytes.push(parseInt(o, 8));
      i += 4;
    } else if (e === 'u' || e === 'U') {
      const n = e === 'u' ? 4 : 8;
      const h = body.slice(i + 2, i + 2 + n);
      if (h.length !== n || !/^[0-9a-fA-F]+$/.test(h)) return undefined;
      const cp = parseInt(h, 16);
      if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return undefined;
      bytes.push(...enc.encode(String.fromCodePoint(cp)));
      i += 2 + n;
    } else return undefined;
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

/** strconv.Unquote for "..." and `...`; undefined for invalid syntax. */
export function unquoteString(quoted: string): string | undefined {
  if (quoted.startsWith('`')) return quoted.slice(1, -1).replace(/\r/g, '');
  return unescape(quoted.slice(1, -1), '"');
}

/** The code point of a Go character constant ('a', '\n', '\u00e9'), or undefined. */
export function unquoteChar(quoted: string): number | undefined {
  const s = unescape(quoted.slice(1, -1), "'");
  if (s === undefined) return undefined;
  const cps = [...s];
  if (cps.length !== 1) return undefined;
  return cps[0].codePointAt(0);
}

export interface ParsedNumber {
  value: number;
  isInt: boolean;
  /** Written as a float (point or exponent): Go's constant is float64 where a float is accepted. */
  isFloat: boolean;
}

const INT_PATTERNS: [RegExp, number][] = [
  [/^0[xX]_?[0-9a-fA-F]+(_[0-9a-fA-F]+)*$/, 16],
  [/^0[bB]_?[01]+(_[01]+)*$/, 2],
  [/^0[oO]_?[0-7]+(_[0-7]+)*$/, 8],
  [/^0_?[0-7]+(_[0-7]+)*$/, 8],
  [/^(0|[1-9](_?[0-9])*)$/, 10],
];
const DEC_FLOAT = /^(?=\.?[0-9])([0-9](_?[0-9])*)?(\.([0-9](_?[0-9])*)?)?([eE][+-]?[0-9](_?[0-9])*)?$/;
const HEX_FLOAT = /^0[xX](_?[0-9a-fA-F])*(\.([0-9a-fA-F]*))?[pP]([+-]?[0-9]+)$/;

/** A Go number literal (ints in any base, floats, with underscores), as a JS number. */
export function parseGoNumber(text: string): ParsedNumber | undefined {
  let sign = 1;
  let t = text;
  if (t.startsWith('+') || t.startsWith('-')) {
    if (t.startsWith('-')) sign = -1;
    t = t.slice(1);
  }
  for (const [re, base] of INT_PATTERNS) {
    if (!re.test(t)) continue;
    let digits = t.replace(/_/g, '');
    if (base !== 10) digits = digits.replace(/^0[xXbBoO]?/, '') || '0';
    const v = sign * parseInt(digits, base);
    return { value: v, isInt: true, isFloat: false };
  }
  if (DEC_FLOAT.test(t)) {
    const v = sign * Number(t.replace(/_/g, ''));
    if (!Number.isFinite(v)) return undefined;
    return { value: v, isInt: Number.isInteger(v), isFloat: /[.eE]/.test(t) };
  }
  const h = HEX_FLOAT.exec(t);
  if (h) {
    const [mant, exp] = t.slice(2).replace(/_/g, '').split(/[pP]/);
    const [ip, fp = ''] = mant.split('.');
    const m = parseInt(ip || '0', 16) + (fp ? parseInt(fp, 16) / 16 ** fp.length : 0);
    const v = sign * m * 2 ** Number(exp);
    if (!Number.isFinite(v)) return undefined;
    return { value: v, isInt: Number.isInteger(v), isFloat: true };
  }
  return undefined;
}
