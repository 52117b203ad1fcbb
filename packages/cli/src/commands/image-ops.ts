/** Image commands over names: `rmi` and `tag`. */
import type { Command } from 'commander';
import type { CliContext } from '../context';
import { CliError } from '../errors';
import { forEach } from './each';

/** Splits `repo[:tag]` (a colon after the last slash is the tag; the default tag is docker's `latest`). */
export function splitReference(ref: string): { repo: string; tag: string } {
  const at = ref.indexOf('@');
  if (at >= 0) throw new CliError(`refusing to create a tag with a digest reference`, 1);
  const colon = ref.lastIndexOf(':');
  if (colon > ref.lastIndexOf('/')) return { repo: ref.slice(0, colon), tag: ref.slice(colon + 1) };
  return { repo: ref, tag: 'latest' };
}

export function imageOpCommands(program: Command, ctx: CliContext): void {
  program
    .command('rmi')
    .description('Remove one or more images')
    .argument('<IMAGE...>')
    .option('-f, --force', 'Force removal of the image')
    .option('--no-prune', 'Do not delete untagged parents')
    .action((names: string[], o: { force?: boolean; prune?: boolean }) =>
      forEach(ctx, names, async (n) => {
        const items = await ctx.client().images.remove(n, { force: o.force, noprune: o.prune === false });
        return items.map((i) => (i.Untagged !== undefined ? `Untagged: ${i.Untagged}\n` : i.Deleted !== undefined ? `Deleted: ${i.Deleted}\n` : '')).join('');
      }),
    );

  program
    .command('tag')
    .description('Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE')
    .argument('<SOURCE_IMAGE[:TAG]>')
    .argument('<TARGET_IMAGE[:TAG]>')
    .action(async (source: string, target: string) => {
      const { repo, tag } = splitReference(target);
      await ctx.client().images.tag(source, repo, tag);
    });
}
