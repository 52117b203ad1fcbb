/**
 * The few string rules of Go's standard library that Docker's parser leans on, so that Gantry
 * splits and trims exactly where Docker does: Go's `unicode.IsSpace` (the Unicode White_Space
 * property: JavaScript's `\s` adds U+FEFF and lacks U+0085) and the trims built on it.
 */
import { goQuote } from '@gantry/format';

/** Go's unicode.IsSpace for one UTF-16 unit (every White_Space character is in the BMP). */
export function isSpace(ch: string): boolean {
  const c = ch.charCodeAt(0);
  if (c <= 0xff) return (c >= 0x09 && c <= 0x0d) || c === 0x20 || c === 0x85 || c === 0xa0;
  return c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000;
}

/** strings.TrimLeftFunc(s, unicode.IsSpace). */
export function trimLeftSpace(s: string): string {
  let i = 0;
  while (i < s.length && isSpace(s[i]!)) i++;
  return i === 0 ? s : s.slice(i);
}

/** strings.TrimRightFunc(s, unicode.IsSpace). */
function trimRightSpace(s: string): string {
  let j = s.length;
  while (j > 0 && isSpace(s[j - 1]!)) j--;
  return j === s.length ? s : s.slice(0, j);
}

/** strings.TrimSpace. */
export function trimSpace(s: string): string {
  return trimRightSpace(trimLeftSpace(s));
}

/** Docker's `[\t\v\f\r ]+` (the parser's word separator: not Unicode spaces, not newlines). */
export const WHITESPACE_RUN = /[\t\v\f\r ]+/;

/** regexp.Split(s, 2) on WHITESPACE_RUN: the first field and the rest (leading separators give an empty first field). */
export function splitOnce(s: string): [string] | [string, string] {
  const m = WHITESPACE_RUN.exec(s);
  if (!m) return [s];
  return [s.slice(0, m.index), s.slice(m.index + m[0].length)];
}

/** Go's %q of a []string: `["a" "b"]`. */
export function goQuoteList(list: readonly string[]): string {
  return `[${list.map(goQuote).join(' ')}]`;
}
