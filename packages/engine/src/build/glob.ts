/** Go's filepath.Match for one path (a stand-in until @gantry/dockerfile's matchGlob is merged). */
export function matchGlob(pattern: string, name: string): boolean {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '\\' && i + 1 < pattern.length) re += escape(pattern[++i]!);
    else if (ch === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) return false;
      let body = pattern.slice(i + 1, end);
      const negate = body.startsWith('^');
      if (negate) body = body.slice(1);
      re += `[${negate ? '^' : ''}${body.replace(/[\]\\]/g, (c) => `\\${c}`)}]`;
      i = end;
    } else re += escape(ch);
  }
  return new RegExp(`${re}$`, 's').test(name);
}

const escape = (c: string) => c.replace(/[.*+?^${}()|[\]\\/]/g, (x) => `\\${x}`);
