/**
 * Help pages in the layout of urfave/cli (runc's CLI library), so scripts and people used to
 * `runc <command> -h` find the same sections: NAME, USAGE, DESCRIPTION, OPTIONS.
 */
import type { FlagSpec } from './args';

export const PROGRAM = 'gantry-runtime';

export interface CommandHelp {
  name: string;
  summary: string;
  /** What follows the options in USAGE, e.g. "<container-id>". */
  args: string;
  description?: string;
  flags: readonly FlagSpec[];
}

function flagLabel(f: FlagSpec): string {
  const value = f.type === 'bool' ? '' : ' value';
  const names = [`--${f.name}${value}`];
  if (f.alias) names.push(`${f.alias.length === 1 ? '-' : '--'}${f.alias}${value}`);
  return names.join(', ');
}

function renderOptions(flags: readonly FlagSpec[]): string {
  const labels = flags.map(flagLabel);
  const width = Math.max(0, ...labels.map((l) => l.length));
  return flags.map((f, i) => `   ${labels[i]!.padEnd(width)}  ${f.usage ?? ''}`.trimEnd()).join('\n');
}

/** `gantry-runtime <command> --help`. The NAME line also names the runc command it stands in for. */
export function commandHelp(c: CommandHelp): string {
  const parts = [
    `NAME:\n   ${PROGRAM} ${c.name} - ${c.summary} (as runc ${c.name})`,
    `USAGE:\n   ${PROGRAM} ${c.name}${c.flags.length > 0 ? ' [command options]' : ''}${c.args ? ` ${c.args}` : ''}`,
  ];
  if (c.description) parts.push(`DESCRIPTION:\n   ${c.description}`);
  if (c.flags.length > 0) parts.push(`OPTIONS:\n${renderOptions(c.flags)}`);
  return `${parts.join('\n\n')}\n`;
}

export function appHelp(version: string, commands: readonly CommandHelp[], globals: readonly FlagSpec[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return `NAME:
   ${PROGRAM} - a drop-in for runc - Open Container Initiative runtime

${PROGRAM} runs containers from OCI bundles (a directory with config.json and a root
filesystem), with runc's commands, flags, state directory layout and exit codes, so that
containerd, scripts and runc's own tests can drive it in runc's place.

USAGE:
   ${PROGRAM} [global options] command [command options] [arguments...]

VERSION:
   ${version}

COMMANDS:
${commands.map((c) => `   ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}
   ${'help, h'.padEnd(width)}  Shows a list of commands or help for one command

GLOBAL OPTIONS:
${renderOptions(globals)}
`;
}
