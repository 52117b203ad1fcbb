/** A command string split as a POSIX shell splits words (quotes and backslashes), as Compose splits `command: string`. */
import { ComposeError } from './errors';

export function shellSplit(s: string, where: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i] ?? '';
    if (c === "'") {
      const end = s.indexOf("'", i + 1);
      if (end < 0) throw new ComposeError(`${where}: unterminated quote in "${s}"`);
      cur += s.slice(i + 1, end);
      i = end;
      inWord = true;
    } else if (c === '"') {
      i++;
      for (; i < s.length && s[i] !== '"'; i++) {
        if (s[i] === '\\' && i + 1 < s.length && '"\\$`\n'.includes(s[i + 1] ?? '')) i++;
        cur += s[i];
      }
      if (i >= s.length) throw new ComposeError(`${where}: unterminated quote in "${s}"`);
      inWord = true;
    } else if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return words;
}
