/** `gantry save` and `gantry load`: docker-archive tars to a file or stdout, and back. */
import * as fs from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable, Writable } from 'node:stream';
import type { Command } from 'commander';
import type { CliContext } from '../context';
import { CliError } from '../errors';
import { printProgress } from '../progress';
import { termInfo } from '../tty';

/** As docker's CopyToFile: a temporary file beside the target, renamed over it once complete. */
async function toFile(src: Readable, path: string): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    await pipeline(src, fs.createWriteStream(tmp));
    fs.renameSync(tmp, path);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw new CliError(`failed to save image: ${e instanceof Error ? e.message : String(e)}`, 1);
  }
}

export function saveCommand(parent: Command, ctx: CliContext): void {
  parent
    .command('save')
    .description('Save one or more images to a tar archive (streamed to STDOUT by default)')
    .argument('<IMAGE...>')
    .option('-o, --output <string>', 'Write to a file, instead of STDOUT')
    .option('--platform <string>', 'Save only the given platform variant')
    .action(async (names: string[], o: { output?: string }) => {
      if (o.output === undefined && termInfo(ctx.stdout, ctx.env).tty) {
        throw new CliError('cowardly refusing to save to a terminal. Use the -o flag or redirect', 1);
      }
      const tar = await ctx.client().images.save(names);
      if (o.output !== undefined) await toFile(tar, o.output);
      else await pipeline(tar, ctx.stdout as Writable, { end: false });
    });
}

export function loadCommand(parent: Command, ctx: CliContext): void {
  parent
    .command('load')
    .description('Load an image from a tar archive or STDIN')
    .option('-i, --input <string>', 'Read from tar archive file, instead of STDIN')
    .option('--platform <string>', 'Load only the given platform variant')
    .option('-q, --quiet', 'Suppress the load output')
    .action(async (o: { input?: string; quiet?: boolean }) => {
      let input: Readable;
      if (o.input !== undefined) {
        try {
          fs.accessSync(o.input, fs.constants.R_OK);
        } catch (e) {
          throw new CliError(`open ${o.input}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : 'permission denied'}`, 1);
        }
        input = fs.createReadStream(o.input);
      } else {
        if (process.stdin.isTTY) throw new CliError('requested load from stdin, but stdin is empty', 1);
        input = process.stdin;
      }
      const term = termInfo(ctx.stdout, ctx.env);
      // off a terminal docker asks for the quiet stream: no bars to drop, only "Loaded image" lines
      const messages = ctx.client().images.load(input, { quiet: o.quiet === true || !term.tty });
      await printProgress(ctx.stdout, messages, term);
    });
}
