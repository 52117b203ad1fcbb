/**
 * `.env` and `env_file` files: `KEY=value` lines, `export ` prefixes, `#` comments, single quotes
 * literal, double quotes with `\n` escapes, unquoted values up to a ` #` comment; a bare `KEY`
 * takes its value from the environment (or stays unset). Values are interpolated with what came
 * before in the file and the environment, as Compose does.
 */
import * as fs from 'node:fs';
import { ComposeError } from './errors';
import { interpolateString, type Lookup } from './interpolate';

export function parseDotenv(text: string, file: string, outer: Lookup = () => undefined): Record<string, string> {
  const out: Record<string, string> = {};
  const lookup: Lookup = (n) => out[n] ?? outer(n);
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*(?:=\s*([\s\S]*))?$/.exec(line);
    if (!m) throw new ComposeError(`line ${i + 1}: unexpected character in variable name "${line}"`, file);
    const key = m[1] ?? '';
    const raw = m[2];
    if (raw === undefined) {
      const v = outer(key);
      if (v !== undefined) out[key] = v;
      continue;
    }
    if (raw.startsWith("'")) {
      const end = raw.indexOf("'", 1);
      out[key] = end < 0 ? raw.slice(1) : raw.slice(1, end);
    } else if (raw.startsWith('"')) {
      const m2 = /^"((?:[^"\\]|\\.)*)"/.exec(raw);
      const body = m2 ? (m2[1] ?? '') : raw.slice(1);
      const unescaped = body.replace(/\\(.)/g, (_, ch: string) => ({ n: '\n', t: '\t', r: '\r' })[ch] ?? ch);
      out[key] = interpolateString(unescaped, lookup, `${file} line ${i + 1}`);
    } else {
      const value = raw.replace(/\s+#.*$/, '').trim();
      out[key] = interpolateString(value, lookup, `${file} line ${i + 1}`);
    }
  }
  return out;
}

export function readDotenv(file: string, outer?: Lookup): Record<string, string> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ComposeError(`cannot read env file: ${(e as Error).message}`, file);
  }
  return parseDotenv(text, file, outer);
}
