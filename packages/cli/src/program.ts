/**
 * The command tree (commander) and how its usage errors become docker's: an unknown flag is
 * status 125 (docker's flag errors), an unknown command or missing arguments status 1, each one
 * line (with commander's nearest suggestion) and a pointer to the command's --help.
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
import { composeCommand } from '@gantry/compose';

export function buildProgram(ctx: CliContext): Command {
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
  composeCommand(program, ctx);
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

/** The usage error docker would print for commander's error, or undefined for help/version (status 0). */
export function usageError(e: CommanderError, argv: readonly string[], program: Command): CliError | undefined {
  if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return undefined;
  const found = commandOf(argv, program);
  const sub = found?.cmd;
  const path = found?.path ?? 'gantry';
  const suggestion = /\(Did you mean (.+)\?\)/.exec(e.message)?.[1];
  const hint = suggestion === undefined ? '' : ` (did you mean ${suggestion}?)`;
  switch (e.code) {
    case 'commander.unknownOption': {
      const flag = /'([^']+)'/.exec(e.message)?.[1] ?? '';
      return new CliError(`unknown flag: ${flag}${hint}\nSee '${path} --help'.`, 125);
    }
    case 'commander.invalidArgument':
    case 'commander.optionMissingArgument':
      return new CliError(`${e.message.replace(/^error: /, '')}\nSee '${path} --help'.`, 125);
    case 'commander.unknownCommand': {
      const name = /'([^']+)'/.exec(e.message)?.[1] ?? '';
      return new CliError(`gantry: unknown command: ${path} ${name}${hint}\n\nRun '${path} --help' for more information`, 1);
    }
    case 'commander.missingArgument': {
      const many = sub?.registeredArguments.some((a) => a.variadic) ?? false;
      return new CliError(
        `gantry: '${path}' requires ${many ? 'at least ' : 'exactly '}${sub?.registeredArguments.filter((a) => a.required).length ?? 1} argument${many || (sub?.registeredArguments.length ?? 1) === 1 ? '' : 's'}\n\nSee '${path} --help' for more information`,
        1,
      );
    }
    case 'commander.excessArguments':
      return new CliError(`gantry: '${path}' accepts no more arguments\n\nSee '${path} --help' for more information`, 1);
    default:
      return new CliError(e.message.replace(/^error: /, ''), e.exitCode === 0 ? 0 : 125);
  }
}
