/**
 * `gantry container …`: docker's management form of the container commands (`container ls`,
 * `container run`, …), the same commands registered under `container`, plus `container prune`.
 */
import type { Command } from 'commander';
import { humanSize } from '@gantry/format';
import type { CliContext } from '../context';
import { CliError } from '../errors';
import { collect, toFilters } from '../options';
import { attachCommand } from './attach';
import { containerOpCommands } from './container-ops';
import { cpCommand } from './cp';
import { execCommand } from './exec';
import { inspectCommand } from './inspect';
import { lifecycleCommands } from './lifecycle';
import { logsCommand } from './logs';
import { psCommand } from './ps';
import { createCommand, runCommand } from './run';
import { startCommands } from './start';
import { statsCommand } from './stats';
import { updateCommand } from './update';

function pruneCommand(container: Command, ctx: CliContext): void {
  container
    .command('prune')
    .description('Remove all stopped containers')
    .option('--filter <filter>', 'Provide filter values (e.g. "until=<timestamp>")', collect)
    .option('-f, --force', 'Do not prompt for confirmation')
    .action(async (o: { filter?: string[]; force?: boolean }) => {
      if (o.force !== true) {
        ctx.stdout.write('WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ');
        if (!(await confirmed(ctx))) throw new CliError('', 0);
      }
      const r = await ctx.client().containers.prune({ filters: toFilters(o.filter) });
      const ids = r.ContainersDeleted ?? [];
      if (ids.length > 0) ctx.stdout.write(`Deleted Containers:\n${ids.map((i) => `${i}\n`).join('')}\n`);
      ctx.stdout.write(`Total reclaimed space: ${humanSize(r.SpaceReclaimed ?? 0)}\n`);
    });
}

/** One line of stdin, `y`/`yes` (any case) to go on. */
async function confirmed(ctx: CliContext): Promise<boolean> {
  const stdin = ctx.stdin;
  if (stdin === undefined) return false;
  let line = '';
  for await (const chunk of stdin) {
    line += String(chunk);
    if (line.includes('\n')) break;
  }
  return /^\s*y(es)?\s*$/i.test(line.split('\n')[0] ?? '');
}

export function containerCommand(program: Command, ctx: CliContext): void {
  const container = program.command('container').description('Manage containers').usage('COMMAND').enablePositionalOptions();
  attachCommand(container, ctx);
  cpCommand(container, ctx);
  createCommand(container, ctx);
  containerOpCommands(container, ctx);
  execCommand(container, ctx);
  inspectCommand(container, ctx);
  lifecycleCommands(container, ctx);
  logsCommand(container, ctx);
  psCommand(container, ctx);
  runCommand(container, ctx, 'gantry container run');
  startCommands(container, ctx);
  statsCommand(container, ctx);
  updateCommand(container, ctx);
  pruneCommand(container, ctx);
  const ls = container.commands.find((c) => c.name() === 'ps');
  ls?.name('ls').aliases(['ps', 'list']);
  const inspect = container.commands.find((c) => c.name() === 'inspect');
  inspect?.setOptionValueWithSource('type', 'container', 'default');
  inspect?.description('Display detailed information on one or more containers');
  // the program sets these on its own commands; these are a level down
  const silence = { writeErr: () => undefined, writeOut: (s: string) => void ctx.stdout.write(s) };
  for (const c of container.commands) c.exitOverride().configureOutput(silence);
}
