/** `gantry pull` and `gantry push`: a registry transfer with docker's progress, then the full reference. */
import { Option, type Command } from 'commander';
import type { JsonMessage } from '@gantry/client';
import { parseReference, formatReference, InvalidReferenceError } from '@gantry/oci';
import type { CliContext } from '../context';
import { loadAuth } from '../credentials';
import { CliError } from '../errors';
import { printProgress } from '../progress';
import { termInfo } from '../tty';

interface TransferOptions {
  allTags?: boolean;
  quiet?: boolean;
  platform?: string;
}

/** The reference as docker completes it: the default tag added (and said) unless -a or a tag/digest was given. */
function resolve(ctx: CliContext, name: string, o: TransferOptions): { repo: string; tag?: string; full: string } {
  let r;
  try {
    r = parseReference(name);
  } catch (e) {
    if (e instanceof InvalidReferenceError) throw new CliError(e.message, 1);
    throw e;
  }
  const at = name.indexOf('@');
  const colon = name.lastIndexOf(':');
  const hasTag = at < 0 && colon > name.lastIndexOf('/');
  const repo = at >= 0 ? name.slice(0, at) : hasTag ? name.slice(0, colon) : name;
  if (o.allTags === true) {
    if (at >= 0 || hasTag) throw new CliError("tag can't be used with --all-tags/-a", 1);
    return { repo, full: `${r.domain}/${r.path}` };
  }
  if (at < 0 && !hasTag && o.quiet !== true) ctx.stdout.write('Using default tag: latest\n');
  return { repo, tag: r.digest ?? r.tag, full: formatReference(r) };
}

async function transfer(ctx: CliContext, messages: AsyncIterable<JsonMessage>, o: TransferOptions, full: string): Promise<void> {
  const term = termInfo(ctx.stdout, ctx.env);
  await printProgress(o.quiet === true ? { write: () => undefined } : ctx.stdout, messages, term);
  ctx.stdout.write(full + '\n');
}

export function pullCommand(parent: Command, ctx: CliContext): void {
  parent
    .command('pull')
    .description('Download an image from a registry')
    .argument('<NAME[:TAG|@DIGEST]>')
    .option('-a, --all-tags', 'Download all tagged images in the repository')
    .option('--disable-content-trust', 'Skip image verification (default true)')
    .addOption(new Option('--no-disable-content-trust').hideHelp())
    .option('--platform <string>', 'Set platform if server is multi-platform capable')
    .option('-q, --quiet', 'Suppress verbose output')
    .action(async (name: string, o: TransferOptions) => {
      const r = resolve(ctx, name, o);
      const auth = loadAuth(ctx.env, parseReference(name).domain);
      const messages = ctx.client().images.pull(r.repo, { tag: r.tag, platform: o.platform, auth });
      await transfer(ctx, messages, o, r.full);
    });
}

export function pushCommand(parent: Command, ctx: CliContext): void {
  parent
    .command('push')
    .description('Upload an image to a registry')
    .argument('<NAME[:TAG]>')
    .option('-a, --all-tags', 'Push all tags of an image to the repository')
    .option('--disable-content-trust', 'Skip image signing (default true)')
    .addOption(new Option('--no-disable-content-trust').hideHelp())
    .option('--platform <string>', 'Push a platform-specific manifest as a single-platform image to the registry')
    .option('-q, --quiet', 'Suppress verbose output')
    .action(async (name: string, o: TransferOptions) => {
      const r = resolve(ctx, name, o);
      const auth = loadAuth(ctx.env, parseReference(name).domain) ?? {};
      const messages = ctx.client().images.push(r.repo, { tag: r.tag, auth });
      await transfer(ctx, messages, o, r.full);
    });
}
