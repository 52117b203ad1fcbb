/** `build`, `pull`, `push`: the services' images. */
import type { Command } from 'commander';
import { ComposeError } from '../errors';
import { progress, type ComposeContext } from '../engine/output';
import { buildService, pullImage } from '../engine/resources';
import { globals, load } from './project-options';

function chosen(all: string[], names: string[]): string[] {
  for (const n of names) if (!all.includes(n)) throw new ComposeError(`no such service: ${n}`);
  return names.length > 0 ? names : all;
}

export function imageCommands(compose: Command, ctx: ComposeContext): void {
  compose
    .command('build')
    .description('Build or rebuild services')
    .argument('[SERVICE...]')
    .option('--no-cache', 'Do not use cache when building the image')
    .option('--pull', 'Always attempt to pull a newer version of the image')
    .option('-q, --quiet', "Don't print anything to STDOUT")
    .action(async (services: string[], o: { cache: boolean; pull?: boolean; quiet?: boolean }, cmd: Command) => {
      const p = load(ctx, globals(cmd));
      for (const name of chosen(Object.keys(p.services), services)) {
        const s = p.services[name];
        if (s?.build === undefined || s.image === undefined) continue;
        await buildService(ctx.client(), p, name, ctx.stdout, { noCache: !o.cache, pull: o.pull, quiet: o.quiet });
        if (o.quiet !== true) progress(ctx.stderr, 'Image', s.image, 'Built');
      }
    });

  compose
    .command('pull')
    .description('Pull service images')
    .argument('[SERVICE...]')
    .option('-q, --quiet', 'Pull without printing progress information')
    .option('--ignore-pull-failures', 'Pull what it can and ignores images with pull failures')
    .action(async (services: string[], o: { quiet?: boolean; ignorePullFailures?: boolean }, cmd: Command) => {
      const p = load(ctx, globals(cmd));
      for (const name of chosen(Object.keys(p.services), services)) {
        const s = p.services[name];
        // a built service's image is not pulled (it may not exist anywhere yet)
        if (s?.image === undefined || s.build !== undefined) continue;
        try {
          await pullImage(ctx.client(), s.image, ctx.stderr, o.quiet === true);
        } catch (e) {
          if (o.ignorePullFailures !== true) throw e;
          ctx.stderr.write(`${name}: ${(e as Error).message}\n`);
        }
      }
    });

  compose
    .command('push')
    .description('Push service images')
    .argument('[SERVICE...]')
    .option('--ignore-push-failures', 'Push what it can and ignores images with push failures')
    .option('-q, --quiet', 'Push without printing progress information')
    .action(async (services: string[], o: { ignorePushFailures?: boolean; quiet?: boolean }, cmd: Command) => {
      const p = load(ctx, globals(cmd));
      for (const name of chosen(Object.keys(p.services), services)) {
        const s = p.services[name];
        if (s?.image === undefined || s.build === undefined) continue;
        try {
          if (o.quiet !== true) progress(ctx.stderr, 'Image', s.image, 'Pushing');
          for await (const _ of ctx.client().images.push(s.image)) {
            // progress messages until the push is done (a failure is thrown)
          }
          if (o.quiet !== true) progress(ctx.stderr, 'Image', s.image, 'Pushed');
        } catch (e) {
          if (o.ignorePushFailures !== true) throw e;
          ctx.stderr.write(`${name}: ${(e as Error).message}\n`);
        }
      }
    });
}
