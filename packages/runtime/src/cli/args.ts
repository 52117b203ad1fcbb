/** A small flag parser with urfave/cli conventions (what runc users and containerd's go-runc send). */

type FlagType = 'bool' | 'string' | 'multi';

export interface FlagSpec {
  name: string;
  alias?: string;
  type: FlagType;
  /** One line for the help page. */
  usage?: string;
}

export interface Parsed {
  flags: Map<string, string | boolean | string[]>;
  positional: string[];
}

export class UsageError extends Error {}

/**
 * Parse `argv` against `specs`. Flags may come as `--name value`, `--name=value`, `-n value`; bools
 * take no value (or `=true/false`). With `stopAtPositional`, everything from the first positional
 * on is positional (exec's command line). Go's flag package also accepts single-dash long names.
 */
export function parseArgs(argv: readonly string[], specs: readonly FlagSpec[], stopAtPositional = false): Parsed {
  const byName = new Map<string, FlagSpec>();
  for (const s of specs) {
    byName.set(s.name, s);
    if (s.alias) byName.set(s.alias, s);
  }
  const flags = new Map<string, string | boolean | string[]>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positional.push(arg);
      if (stopAtPositional) {
        positional.push(...argv.slice(i + 1));
        break;
      }
      continue;
    }
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const spec = byName.get(name);
    if (!spec) throw new UsageError(`flag provided but not defined: -${name}`);
    let value: string | undefined = eq >= 0 ? body.slice(eq + 1) : undefined;
    if (spec.type === 'bool') {
      flags.set(spec.name, value === undefined ? true : value !== 'false');
      continue;
    }
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`flag needs an argument: -${name}`);
      value = argv[++i]!;
    }
    if (spec.type === 'multi') {
      const list = (flags.get(spec.name) as string[] | undefined) ?? [];
      list.push(value);
      flags.set(spec.name, list);
    } else flags.set(spec.name, value);
  }
  return { flags, positional };
}

export function str(p: Parsed, name: string): string | undefined {
  const v = p.flags.get(name);
  return typeof v === 'string' ? v : undefined;
}

export function bool(p: Parsed, name: string): boolean {
  return p.flags.get(name) === true;
}

export function multi(p: Parsed, name: string): string[] {
  const v = p.flags.get(name);
  return Array.isArray(v) ? v : [];
}

export function int(p: Parsed, name: string, fallback: number): number {
  const v = str(p, name);
  if (v === undefined) return fallback;
  if (!/^-?\d+$/.test(v)) throw new UsageError(`invalid value "${v}" for flag -${name}: not an integer`);
  return Number(v);
}

/** Sizes as docker/runc write them: plain bytes or with b/k/m/g/t suffixes (powers of 1024); -1 is unlimited. */
export function parseBytes(text: string): number {
  const m = /^(-1|\d+(?:\.\d+)?)\s*([bkmgt]?)i?b?$/i.exec(text.trim());
  if (!m) throw new UsageError(`invalid size: ${JSON.stringify(text)}`);
  if (m[1] === '-1') return -1;
  const mult = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase()] ?? 1;
  return Math.floor(Number(m[1]) * mult);
}

/** Go-style durations: "5s", "100ms", "1m30s". */
export function parseDuration(text: string): number {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let total = 0;
  let consumed = 0;
  for (const m of text.matchAll(re)) {
    total += Number(m[1]) * { ms: 1, s: 1000, m: 60000, h: 3600000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
    consumed += m[0].length;
  }
  if (consumed !== text.length || consumed === 0) throw new UsageError(`invalid duration ${JSON.stringify(text)}`);
  return total;
}
