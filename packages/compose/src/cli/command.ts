/** `gantry compose`: the command and its subcommands, registered on the `gantry` program. */
import { Command } from 'commander';
import type { ComposeContext } from '../engine/output';
import { execRunCommands } from './exec-run';
import { imageCommands } from './images';
import { lifecycleCommands } from './lifecycle';
import { collect } from './project-options';
import { viewCommands } from './view';

/**
 * The exit status of what `exec`/`run` ran, as the process's: set when the process exits, since the
 * `gantry` runner sets exitCode 0 for every command that returns.
 */
function exitWith(n: number): void {
  process.once('exit', (code) => {
    if (code === 0) process.exitCode = n;
  });
}

/** Adds `compose` to `program`; `setStatus` receives the status `exec`/`run` end with. */
export function composeCommand(program: Command, ctx: ComposeContext, setStatus: (n: number) => void = exitWith): Command {
  const compose = new Command('compose')
    .description('Define and run multi-container applications')
    .option('-f, --file <path>', 'Compose configuration files', collect)
    .option('-p, --project-name <string>', 'Project name')
    .option('--project-directory <path>', 'Specify an alternate working directory (default: the path of the first specified Compose file)')
    .option('--env-file <path>', 'Specify an alternate environment file', collect)
    .option('--profile <profile>', 'Specify a profile to enable', collect)
    .enablePositionalOptions();
  lifecycleCommands(compose, ctx);
  viewCommands(compose, ctx);
  execRunCommands(compose, ctx, setStatus);
  imageCommands(compose, ctx);
  for (const c of [compose, ...compose.commands])
    c.exitOverride().configureOutput({ writeErr: () => undefined, writeOut: (s: string) => void ctx.stdout.write(s) });
  program.addCommand(compose);
  return compose;
}
