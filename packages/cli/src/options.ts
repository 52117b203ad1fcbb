/** Option value parsers shared by commands (commander's argParser signature). */
import { InvalidArgumentError } from 'commander';
import type { Filters } from '@gantry/client';

/** For options that repeat (`-f a=b -f c=d`). */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function integer(value: string): number {
  if (!/^-?\d+$/.test(value)) throw new InvalidArgumentError(`strconv.ParseInt: parsing "${value}": invalid syntax`);
  return Number(value);
}

/** docker's `--filter key=value` list as the API's filters map. */
export function toFilters(values: readonly string[] | undefined): Filters | undefined {
  if (values === undefined || values.length === 0) return undefined;
  const out: Filters = {};
  for (const v of values) {
    const i = v.indexOf('=');
    if (i <= 0) throw new InvalidArgumentError(`bad format of filter (expected name=value)`);
    (out[v.slice(0, i).trim().toLowerCase()] ??= []).push(v.slice(i + 1));
  }
  return out;
}

/** docker's boolean flags that default to true, which commander spells `--no-<name>` to turn off. */
const DEFAULT_TRUE = new Set(['pause', 'human', 'disable-content-trust']);

/** Rewrites docker's `--pause=false` / `--human=true` (Go's bool flag syntax) into commander's `--no-pause` / `--human`. */
export function goBoolFlags(argv: readonly string[]): string[] {
  const end = argv.indexOf('--');
  return argv.map((a, i) => {
    if (end >= 0 && i > end) return a;
    const m = /^--([a-z-]+)=(true|false|1|0)$/.exec(a);
    if (m === null || !DEFAULT_TRUE.has(m[1]!)) return a;
    return m[2] === 'false' || m[2] === '0' ? `--no-${m[1]!}` : `--${m[1]!}`;
  });
}
