/** `gantry image …`: docker's management forms of the image commands (ls, rm, inspect, prune and the top-level ones). */
import type { Command } from 'commander';
import { humanSize } from '@gantry/format';
import type { CliContext } from '../context';
import { confirm, inspectEach } from '../objects';
import { collect, toFilters } from '../options';
import { historyCommand } from './history';
import { imageOpCommands } from './image-ops';
import { imagesCommand } from './images';
import { importCommand } from './commit-import';
import { pullCommand, pushCommand } from './pull';
import { loadCommand, saveCommand } from './save-load';

function rename(parent: Command, from: string, to: string, alias: string): void {
  parent.commands
    .find((c) => c.name() === from)
    ?.name(to)
    .alias(alias);
}

export function imageCommand(parent: Command, ctx: CliContext, extra: ((image: Command, ctx: CliContext) => void)[] = []): void {
  const image = parent.command('image').description('Manage images');
  imagesCommand(image, ctx);
  rename(image, 'images', 'ls', 'list');
  imageOpCommands(image, ctx);
  rename(image, 'rmi', 'rm', 'remove');
  for (const add of [pullCommand, pushCommand, historyCommand, saveCommand, loadCommand, importCommand, ...extra]) add(image, ctx);

  image
    .command('inspect')
    .description('Display detailed information on one or more images')
    .argument('<IMAGE...>')
    .option('-f, --format <string>', "Format output using a custom template: 'json' or 'TEMPLATE'")
    .option('--platform <string>', 'Inspect a specific platform of the multi-platform image')
    .action((names: string[], o: { format?: string }) => inspectEach(ctx, names, o.format, (n) => ctx.client().images.inspect(n)));

  image
    .command('prune')
    .description('Remove unused images')
    .option('-a, --all', 'Remove all unused images, not just dangling ones')
    .option('--filter <filter>', 'Provide filter values (e.g. "until=<timestamp>")', collect)
    .option('-f, --force', 'Do not prompt for confirmation')
    .action(async (o: { all?: boolean; filter?: string[]; force?: boolean }) => {
      const warning =
        o.all === true
          ? 'WARNING! This will remove all images without at least one container associated to them.'
          : 'WARNING! This will remove all dangling images.';
      if (o.force !== true && !(await confirm(ctx, warning))) return;
      const res = await ctx.client().images.prune({ filters: { ...(toFilters(o.filter) ?? {}), dangling: [o.all === true ? 'false' : 'true'] } });
      const lines = (res.ImagesDeleted ?? []).map((d) => (d.Untagged !== undefined ? `untagged: ${d.Untagged}` : `deleted: ${d.Deleted ?? ''}`));
      ctx.stdout.write((lines.length > 0 ? `Deleted Images:\n${lines.join('\n')}\n\n` : '') + `Total reclaimed space: ${humanSize(res.SpaceReclaimed ?? 0)}\n`);
    });
}
