/**
 * The daemons' command lines (gantryd, gantry-containerd, gantry-shim), parsed one way on top of
 * `node:util` `parseArgs`: long flags with `=` or a separate value, one-letter short names,
 * repeatable flags, booleans as `--flag`, `--flag=true` or `--flag=false` (as Go's pflag takes
 * them, so dockerd's spellings work), and `--help` text generated from the definitions. A bad
 * command line is one line in pflag's words (`unknown flag: --foo`) and exit status 1.
 *
 * gantry-runtime keeps its own parser (src/cli/args.ts): runc's global-flags-then-command shape and
 * its single-dash long flags do not fit this one.
 */
import { parseArgs } from 'node:util';

interface FlagBase {
  /** One letter: `-H` beside `--host`. */
  readonly short?: string;
  /** The help line; `\n` starts a continuation line. */
  readonly help: string;
}

export interface StringFlag extends FlagBase {
  readonly type: 'string';
  /** The value's name in the help (`--data-root DIR`). */
  readonly arg?: string;
  /** May be given many times; the values in order. */
  readonly multiple?: boolean;
}

export interface BooleanFlag extends FlagBase {
  readonly type: 'boolean';
}

export type FlagDef = StringFlag | BooleanFlag;
export type FlagDefs = Readonly<Record<string, FlagDef>>;

/** What each definition parses to: a repeatable flag is a list (empty when absent), others undefined when absent. */
export type FlagValues<D extends FlagDefs> = {
  -readonly [K in keyof D]: D[K] extends BooleanFlag ? boolean | undefined : D[K] extends { multiple: true } ? string[] : string | undefined;
};

export interface CommandLine<D extends FlagDefs> {
  readonly flags: FlagValues<D>;
  readonly positionals: string[];
}

export interface CommandSpec<D extends FlagDefs> {
  /** The program's name, as the usage line and errors say it. */
  readonly program: string;
  /** What follows the program's name in the usage line (default `[options]`). */
  readonly synopsis?: string;
  readonly flags: D;
  /** Words that are not flags (a subcommand); refused unless set. */
  readonly positionals?: boolean;
}

/** A command line that cannot be parsed; the message is the one line a user sees. */
export class FlagError extends Error {
  override name = 'FlagError';
}

function parseBool(raw: string, v: string): boolean {
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new FlagError(`invalid argument "${v}" for "${raw}" flag: takes true or false`);
}

/** Parse `argv` (without node and the script); `'help'` when -h/--help is there. Throws FlagError. */
export function parseFlags<D extends FlagDefs>(spec: CommandSpec<D>, argv: readonly string[]): CommandLine<D> | 'help' {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [name, def] of Object.entries(spec.flags)) options[name] = def.short ? { type: def.type, short: def.short } : { type: def.type };
  if (!('help' in options)) options['help'] = { type: 'boolean', short: 'h' };
  const { tokens } = parseArgs({ args: [...argv], options, strict: false, allowPositionals: true, tokens: true });

  const flags: Record<string, string | boolean | string[] | undefined> = {};
  for (const [name, def] of Object.entries(spec.flags)) flags[name] = def.type === 'string' && def.multiple ? [] : undefined;
  const positionals: string[] = [];
  for (const t of tokens) {
    if (t.kind === 'option-terminator') continue;
    if (t.kind === 'positional') {
      if (!spec.positionals) throw new FlagError(`unexpected argument "${t.value}"`);
      positionals.push(t.value);
      continue;
    }
    const def = spec.flags[t.name];
    if (def === undefined) {
      if (t.name === 'help') return 'help';
      throw new FlagError(`unknown flag: ${t.rawName}`);
    }
    // `-H=x` means x, as pflag reads it (parseArgs would keep the `=`).
    const value = t.value !== undefined && t.inlineValue && !t.rawName.startsWith('--') && t.value.startsWith('=') ? t.value.slice(1) : t.value;
    if (def.type === 'boolean') {
      flags[t.name] = value === undefined ? true : parseBool(t.rawName, value);
      continue;
    }
    if (value === undefined) throw new FlagError(`flag needs an argument: ${t.rawName}`);
    const prev = flags[t.name];
    flags[t.name] = Array.isArray(prev) ? [...prev, value] : value;
  }
  return { flags: flags as FlagValues<D>, positionals };
}

/** The `--help` text: the usage line, then one aligned line (or more) per flag. */
export function flagsHelp<D extends FlagDefs>(spec: CommandSpec<D>): string {
  const rows = Object.entries(spec.flags).map(([name, def]) => {
    const short = def.short ? `-${def.short}, ` : '    ';
    const arg = def.type === 'string' ? ` ${def.arg ?? 'VALUE'}` : '';
    return { left: `  ${short}--${name}${arg}`, help: def.help.split('\n') };
  });
  rows.push({ left: '  -h, --help', help: ['print this help'] });
  const width = Math.max(...rows.map((r) => r.left.length)) + 2;
  const lines = [`usage: ${spec.program} ${spec.synopsis ?? '[options]'}`];
  for (const r of rows) {
    lines.push(r.left.padEnd(width) + r.help[0]);
    for (const more of r.help.slice(1)) lines.push(' '.repeat(width) + more);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * For a daemon's main: the parsed command line, or the help on stdout and exit 0, or the error on
 * stderr (one line) and exit 1. `check` may throw FlagError for values that
 * parse but do not fit (an unknown log level); it is reported the same way.
 */
export function commandLineOrExit<D extends FlagDefs, T>(spec: CommandSpec<D>, argv: readonly string[], check: (c: CommandLine<D>) => T): T {
  try {
    const parsed = parseFlags(spec, argv);
    if (parsed === 'help') {
      process.stdout.write(flagsHelp(spec));
      process.exit(0);
    }
    return check(parsed);
  } catch (e) {
    if (!(e instanceof FlagError)) throw e;
    process.stderr.write(`${spec.program}: ${e.message}\n`);
    process.exit(1);
  }
}
