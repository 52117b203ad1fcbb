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
import { versionCommand } from './commands/version';
import { composeCommand } from '@gantry/compose';

export function buildProgram(ctx: CliContext): Command {
  const program = new Command('gantry')
    .description('A docker-compatible command line for gantryd')
    .option('-H, --host <host>', 'Daemon socket to connect to')
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
  composeCommand(program, ctx);
  const silence = { writeErr: () => undefined, writeOut: (s: string) => void ctx.stdout.write(s) };
  for (const c of [program, ...program.commands]) c.exitOverride().configureOutput(silence);
  return program;
}

/** The usage error docker would print for commander's error, or undefined for help/version (status 0). */
export function usageError(e: CommanderError, argv: readonly string[], program: Command): CliError | undefined {
  if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return undefined;
  const sub = program.commands.find((c) => argv.includes(c.name()));
  const path = sub === undefined ? 'gantry' : `gantry ${sub.name()}`;
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
      return new CliError(`gantry: unknown command: gantry ${name}${hint}\n\nRun 'gantry --help' for more information`, 1);
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
