/**
 * The command tree (commander) and how its usage errors become docker 28's: a flag error is
 * status 125, an unknown command or a wrong number of arguments status 1, each followed by the
 * command's usage line and a pointer to its --help (`usageError`).
 */
import { Command, type CommanderError } from 'commander';
import type { CliContext } from './context';
import { CliError } from './errors';
import { CLI_VERSION } from './meta';
import { imageOpCommands } from './commands/image-ops';
import { imagesCommand } from './commands/images';
import { inspectCommand } from './commands/inspect';
import { lifecycleCommands } from './commands/lifecycle';
import { logsCommand } from './commands/logs';
import { psCommand } from './commands/ps';
import { createCommand, runCommand } from './commands/run';
import { startCommands } from './commands/start';
import { attachCommand } from './commands/attach';
import { execCommand } from './commands/exec';
import { containerOpCommands } from './commands/container-ops';
import { updateCommand } from './commands/update';
import { cpCommand } from './commands/cp';
import { statsCommand } from './commands/stats';
import { containerCommand } from './commands/container';
import { versionCommand } from './commands/version';
import { pullCommand, pushCommand } from './commands/pull';
import { historyCommand } from './commands/history';
import { saveCommand, loadCommand } from './commands/save-load';
import { commitCommand, importCommand } from './commands/commit-import';
import { networkCommand } from './commands/network';
import { volumeCommand } from './commands/volume';
import { systemCommands } from './commands/system';
import { contextCommand } from './commands/context';
import { imageCommand } from './commands/image';
import { loginCommands } from './commands/login';
import { buildCommand } from './commands/build';
import { completionCommand } from './commands/completion';

/** What the CLI uses of @gantry/compose: loaded only for a command line that may need it (see run.ts). */
export interface ComposeModule {
  composeCommand(program: Command, ctx: CliContext): Command;
}

/** `compose` in `gantry --help` when @gantry/compose is not loaded (same line as the real command's). */
function composePlaceholder(program: Command): void {
  program.addCommand(new Command('compose').description('Define and run multi-container applications').option('-f, --file <path>'));
}

export function buildProgram(ctx: CliContext, compose?: ComposeModule): Command {
  const program = new Command('gantry')
    .description('A docker-compatible command line for gantryd')
    .option('-H, --host <host>', 'Daemon socket to connect to')
    .option(
      '-c, --context <string>',
      'Name of the context to use to connect to the daemon (overrides GANTRY_HOST and the default context set with "gantry context use")',
    )
    .version(`Gantry version ${CLI_VERSION}`, '-v, --version', 'Print version information and quit')
    .showSuggestionAfterError(true)
    .enablePositionalOptions();
  versionCommand(program, ctx);
  psCommand(program, ctx);
  imagesCommand(program, ctx);
  inspectCommand(program, ctx);
  lifecycleCommands(program, ctx);
  imageOpCommands(program, ctx);
  logsCommand(program, ctx);
  pullCommand(program, ctx);
  pushCommand(program, ctx);
  historyCommand(program, ctx);
  saveCommand(program, ctx);
  loadCommand(program, ctx);
  commitCommand(program, ctx);
  importCommand(program, ctx);
  networkCommand(program, ctx);
  volumeCommand(program, ctx);
  systemCommands(program, ctx);
  contextCommand(program, ctx);
  imageCommand(program, ctx, [buildCommand]);
  buildCommand(program, ctx);
  completionCommand(program, ctx);
  loginCommands(program, ctx);
  runCommand(program, ctx);
  createCommand(program, ctx);
  startCommands(program, ctx);
  attachCommand(program, ctx);
  execCommand(program, ctx);
  containerOpCommands(program, ctx);
  updateCommand(program, ctx);
  cpCommand(program, ctx);
  statsCommand(program, ctx);
  containerCommand(program, ctx);
  if (compose !== undefined) compose.composeCommand(program, ctx);
  else composePlaceholder(program);
  const silence = { writeErr: () => undefined, writeOut: (s: string) => void ctx.stdout.write(s) };
  for (const c of allCommands(program)) c.exitOverride().configureOutput(silence);
  return program;
}

/** A command and every command under it (`network ls` is a subcommand of `network`). */
function allCommands(c: Command): Command[] {
  return [c, ...c.commands.flatMap(allCommands)];
}

/** The deepest command the words of argv name (`network ls` in `gantry network ls -x`), or undefined. */
function commandOf(argv: readonly string[], program: Command): { cmd: Command; path: string } | undefined {
  let cmd: Command | undefined;
  let parent = program;
  let path = 'gantry';
  for (const word of argv) {
    const next = parent.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (next === undefined) {
      if (cmd !== undefined) break;
      continue;
    }
    cmd = next;
    parent = next;
    path += ` ${next.name()}`;
  }
  return cmd === undefined ? undefined : { cmd, path };
}

/** The usage line docker prints under an error: `gantry run [OPTIONS] IMAGE [COMMAND] [ARG...]`. */
function usageLine(cmd: Command, path: string): string {
  const words = cmd
    .usage()
    // commander counts --help as an option; docker shows [OPTIONS] only for commands with flags of their own
    .replace(/\[options\] ?/g, cmd.options.length > 0 ? '[OPTIONS] ' : '')
    .replace(/\[command\]/g, 'COMMAND')
    .replace(/<([^>]+)\.\.\.>/g, '$1 [$1...]')
    .replace(/<([^>]+)>/g, '$1');
  return `${path} ${words}`.trim();
}

const plural = (n: number): string => `${n} argument${n === 1 ? '' : 's'}`;

/**
 * docker's argument-count messages (`cli.NoArgs`, `RequiresMinArgs`, `ExactArgs`, `RequiresMaxArgs`,
 * `RequiresRangeArgs`) for the command's arguments, and the word its pointer to --help starts with
 * (docker says "See" after a minimum only).
 */
function argumentCountMessage(cmd: Command | undefined, path: string): { message: string; verb: string } {
  const args = cmd?.registeredArguments ?? [];
  const required = args.filter((a) => a.required).length;
  const optional = args.length - required;
  const variadic = args.some((a) => a.variadic);
  if (args.length === 0) return { message: `'${path}' accepts no arguments`, verb: 'Run' };
  if (variadic) return { message: `'${path}' requires at least ${plural(required)}`, verb: 'See' };
  if (optional === 0) return { message: `'${path}' requires ${plural(required)}`, verb: 'Run' };
  if (required === 0) return { message: `'${path}' requires at most ${plural(optional)}`, verb: 'Run' };
  return { message: `'${path}' requires at least ${required} and at most ${plural(required + optional)}`, verb: 'Run' };
}

/** The flag as typed: `--memory`, or `'m' in -m` for a shorthand (cobra's wording). */
function typedFlag(flags: string, argv: readonly string[]): string {
  const long = /--[\w-]+/.exec(flags)?.[0];
  const short = /(?:^|[ ,])(-\w)\b/.exec(flags)?.[1];
  if (long !== undefined && argv.some((a) => a === long || a.startsWith(`${long}=`))) return long;
  if (short !== undefined) return `'${short.slice(1)}' in ${short}`;
  return long ?? flags;
}

/**
 * The usage error docker 28 prints for commander's error, or undefined for help/version (status
 * 0): the message, the command's usage line and a pointer to its --help. Flag errors are status
 * 125, argument-count errors and unknown commands status 1.
 */
export function usageError(e: CommanderError, argv: readonly string[], program: Command): CliError | undefined {
  if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return undefined;
  const found = commandOf(argv, program);
  const sub = found?.cmd;
  const path = found?.path ?? 'gantry';
  const usage = sub === undefined ? '' : `\n\nUsage:  ${usageLine(sub, path)}`;
  const flagError = (message: string) => new CliError(`${message}${usage}\n\nRun '${path} --help' for more information`, 125);
  const message = e.message.replace(/^error: /, '');
  // commander's nearest command or flag, as docker words it
  const nearest = /\(Did you mean (.+)\?\)/.exec(message)?.[1];
  const hint = nearest === undefined ? '' : ` (did you mean ${nearest}?)`;
  switch (e.code) {
    case 'commander.unknownOption': {
      const flag = /'([^']+)'/.exec(message)?.[1] ?? '';
      // docker names no nearest flag; gantry does, as it does for commands
      return flagError(/^-[^-]/.test(flag) ? `unknown shorthand flag: '${flag[1] ?? ''}' in ${flag}${hint}` : `unknown flag: ${flag}${hint}`);
    }
    case 'commander.invalidArgument': {
      // commander: option '-m, --memory <bytes>' argument 'xx' is invalid. <reason>
      const m = /^option '(.+?)(?: [<[][^']*)?' argument '([\s\S]*)' is invalid\. ?([\s\S]*)$/.exec(message);
      return flagError(m === null ? message : `invalid argument "${m[2] ?? ''}" for "${m[1] ?? ''}" flag: ${m[3] ?? ''}`);
    }
    case 'commander.optionMissingArgument': {
      const flags = /^option '(.+?)(?: [<[][^']*)?' argument missing/.exec(message)?.[1] ?? '';
      return flagError(`flag needs an argument: ${typedFlag(flags, argv)}`);
    }
    case 'commander.unknownCommand': {
      const name = /'([^']+)'/.exec(message)?.[1] ?? '';
      const groupUsage = sub === undefined ? '' : `\n\nUsage:  ${path}`;
      return new CliError(`gantry: unknown command: ${path} ${name}${hint}${groupUsage}\n\nRun '${path} --help' for more information`, 1);
    }
    case 'commander.missingArgument':
    case 'commander.excessArguments': {
      const { message: what, verb } = argumentCountMessage(sub, path);
      return new CliError(`gantry: ${what}${usage}\n\n${verb} '${path} --help' for more information`, 1);
    }
    default:
      return new CliError(message, e.exitCode === 0 ? 0 : 125);
  }
}
