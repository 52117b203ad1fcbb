/** `gantry commit` and `gantry import`: a new image from a container's changes or from a filesystem tar. */
import * as fs from 'node:fs';
import type { Readable } from 'node:stream';
import type { Command } from 'commander';
import type { CliContext } from '../context';
import { CliError } from '../errors';
import { collect } from '../options';
import { printProgress } from '../progress';
import { termInfo } from '../tty';
import { splitReference } from './image-ops';

/** `[REPOSITORY[:TAG]]` as the API's repo and tag (none when not given). */
function target(ref: string | undefined): { repo?: string; tag?: string } {
  if (ref === undefined || ref === '') return {};
  return splitReference(ref);
}

export function commitCommand(parent: Command, ctx: CliContext): void {
  parent
    .command('commit')
    .description("Create a new image from a container's changes")
    .argument('<CONTAINER>')
    .argument('[REPOSITORY[:TAG]]')
    .option('-a, --author <string>', 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")')
    .option('-c, --change <list>', 'Apply Dockerfile instruction to the created image', collect)
    .option('-m, --message <string>', 'Commit message')
    .option('-p, --pause', 'Pause container during commit (default true)', true)
    .option('--no-pause', 'Do not pause the container during commit')
    .action(async (container: string, ref: string | undefined, o: { author?: string; change?: string[]; message?: string; pause?: boolean }) => {
      const { Id } = await ctx.client().images.commit({
        container,
        ...target(ref),
        comment: o.message,
        author: o.author,
        pause: o.pause !== false,
        changes: o.change,
      });
      ctx.stdout.write(Id + '\n');
    });
}

export function importCommand(parent: Command, ctx: CliContext): void {
  parent
    .command('import')
    .description('Import the contents from a tarball to create a filesystem image')
    .argument('<file|->')
    .argument('[REPOSITORY[:TAG]]')
    .option('-c, --change <list>', 'Apply Dockerfile instruction to the created image', collect)
    .option('-m, --message <string>', 'Set commit message for imported image')
    .option('--platform <string>', 'Set platform if server is multi-platform capable')
    .action(async (source: string, ref: string | undefined, o: { change?: string[]; message?: string; platform?: string }) => {
      const options = { ...target(ref), message: o.message, changes: o.change, platform: o.platform };
      if (/^https?:\/\//.test(source)) {
        // the daemon downloads it, as dockerd does
        await printProgress(ctx.stdout, ctx.client().images.importUrl(source, options), termInfo(ctx.stdout, ctx.env));
        return;
      }
      let body: Readable;
      if (source === '-') body = process.stdin;
      else {
        try {
          fs.accessSync(source, fs.constants.R_OK);
        } catch {
          throw new CliError(`open ${source}: no such file or directory`, 1);
        }
        body = fs.createReadStream(source);
      }
      const messages = ctx.client().images.import(body, options);
      await printProgress(ctx.stdout, messages, termInfo(ctx.stdout, ctx.env));
    });
}
