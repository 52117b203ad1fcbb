/**
 * Go's encoding/json as docker's `json` template function uses it (SetEscapeHTML(false), no
 * trailing newline): map keys sorted, struct fields in order, nil as null, strings with Go's
 * escapes (\u2028 and \u2029 escaped). Unsupported values (NaN, ±Inf, cycles, functions) make it
 * fail, and docker's function then prints nothing.
 */
import { TemplateLimitError } from './errors';
import { kindOf, mapGet, mapKeys, structFields } from './value';

export class JsonUnsupportedError extends Error {
  override name = 'JsonUnsupportedError';
}

function jsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c === 0x08) out += '\\b';
    else if (c === 0x0c) out += '\\f';
    else if (c < 0x20 || c === 0x2028 || c === 0x2029) out += '\\u' + c.toString(16).padStart(4, '0');
    else if (c >= 0xd800 && c <= 0xdfff) {
      const next = s.charCodeAt(i + 1);
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        out += s[i] + s[i + 1];
        i++;
      } else out += '\\ufffd';
    } else out += s[i];
  }
  return out + '"';
}

/** Go's float encoding: ES number syntax, exponents without a leading zero (1e-7, 1e+21). */
function jsonNumber(n: number | bigint): string {
  if (typeof n === 'bigint') return n.toString();
  if (!Number.isFinite(n)) throw new JsonUnsupportedError(`json: unsupported value: ${Number.isNaN(n) ? 'NaN' : n > 0 ? '+Inf' : '-Inf'}`);
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return Number.isSafeInteger(n) ? String(n) : BigInt(n).toString();
  return String(n);
}

/** json.Marshal of a template value, bounded in depth and size. */
export function goJson(v: unknown, limits: { maxDepth: number; maxOutput: number }): string {
  const seen = new Set<object>();
  let size = 0;
  const enc = (x: unknown, depth: number): string => {
    if (depth > limits.maxDepth) throw new TemplateLimitError('maxDepth', limits.maxDepth);
    let s: string;
    switch (kindOf(x)) {
      case 'invalid':
      case 'nil':
        s = 'null';
        break;
      case 'bool':
        s = String(x);
        break;
      case 'int':
      case 'float':
        s = jsonNumber(typeof x === 'bigint' ? x : Number(x));
        break;
      case 'string':
        s = jsonString(String(x));
        break;
      case 'func':
        throw new JsonUnsupportedError('json: unsupported type: func()');
      case 'slice':
      case 'map':
      case 'struct': {
        const o = x as object;
        if (o instanceof Date) {
          s = jsonString(o.toISOString());
          break;
        }
        if (seen.has(o)) throw new JsonUnsupportedError('json: unsupported value: encountered a cycle');
        seen.add(o);
        const k = kindOf(x);
        if (k === 'slice') s = '[' + Array.from(o as ArrayLike<unknown>, (e) => enc(e, depth + 1)).join(',') + ']';
        else if (k === 'map')
          s =
            '{' +
            mapKeys(o)
              .map((key) => `${jsonString(String(key))}:${enc(mapGet(o, key), depth + 1)}`)
              .join(',') +
            '}';
        // structs are docker's format contexts, whose MarshalJSON builds a map: keys sorted
        else
          s =
            '{' +
            structFields(o)
              .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
              .map(([key, val]) => `${jsonString(key)}:${enc(val, depth + 1)}`)
              .join(',') +
            '}';
        seen.delete(o);
        break;
      }
    }
    if (kindOf(x) !== 'slice' && kindOf(x) !== 'map' && kindOf(x) !== 'struct') size += s.length;
    else size += 2;
    if (size > limits.maxOutput) throw new TemplateLimitError('maxOutput', limits.maxOutput);
    return s;
  };
  return enc(v, 0);
}
