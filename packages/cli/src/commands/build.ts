/** `gantry build`: the classic builder (POST /build) with docker's flags, context tar, .dockerignore and `-` for stdin. */
import * as fs from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import type { RequestBody } from '@gantry/client';
import type { CliContext } from '../context';
import { contextTar, dockerfileOnlyTar, stdinDockerfileName } from '../build-context';
import { CliError } from '../errors';
import { collect } from '../options';
import { keyValues } from '../objects';
import { printProgress } from '../progress';
import { termInfo } from '../tty';

interface BuildFlags {
  tag?: string[];
  file?: string;
  buildArg?: string[];
  target?: string;
  cache?: boolean;
  pull?: boolean;
  quiet?: boolean;
  label?: string[];
  network?: string;
  platform?: string;
  iidfile?: string;
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** `--build-arg NAME` alone takes NAME from the environment, as docker does (left out when unset). */
function buildArgs(list: readonly string[] | undefined, env: NodeJS.ProcessEnv): Record<string, string> | undefined {
  if (list === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const a of list) {
    const i = a.indexOf('=');
    if (i > 0) out[a.slice(0, i)] = a.slice(i + 1);
    else if (env[a] !== undefined) out[a] = env[a] ?? '';
  }
  return out;
}

const isTar = (b: Buffer): boolean => b.length >= 262 && b.toString('ascii', 257, 262) === 'ustar';

export function buildCommand(parent: Command, ctx: CliContext): void {
  parent
    .command('build')
    .description('Build an image from a Dockerfile')
    .argument('<PATH|->')
    .option('--build-arg <list>', 'Set build-time variables', collect)
    .option('-f, --file <string>', "Name of the Dockerfile (Default is 'PATH/Dockerfile')")
    .option('--iidfile <string>', 'Write the image ID to the file')
    .option('--label <list>', 'Set metadata for an image', collect)
    .option('--network <string>', 'Set the networking mode for the RUN instructions during build', 'default')
    .option('--no-cache', 'Do not use cache when building the image')
    .option('--platform <string>', 'Set platform if server is multi-platform capable')
    .option('--pull', 'Always attempt to pull a newer version of the image')
    .option('-q, --quiet', 'Suppress the build output and print image ID on success')
    .option('-t, --tag <list>', "Name and optionally a tag in the 'name:tag' format", collect)
    .option('--target <string>', 'Set the target build stage to build.')
    .action(async (path: string, o: BuildFlags) => {
      let body: RequestBody;
      let dockerfile: string | undefined;
      if (path === '-') {
        if (o.file === '-') throw new CliError("invalid argument: can't use stdin for both build context and dockerfile", 1);
        const input = await readStdin();
        body = isTar(input) ? input : dockerfileOnlyTar(input);
        dockerfile = o.file;
      } else if (o.file === '-') {
        const name = stdinDockerfileName();
        body = contextTar(path, { dockerfile: name, extra: { name, content: await readStdin() } });
        dockerfile = name;
      } else {
        const file = o.file === undefined ? join(path, 'Dockerfile') : resolve(o.file);
        if (!fs.existsSync(file))
          throw new CliError(`unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat ${resolve(file)}: no such file or directory`, 1);
        const rel = relative(resolve(path), resolve(file));
        if (rel.startsWith('..')) {
          // a Dockerfile outside the context is sent inside it, as docker does
          const name = stdinDockerfileName();
          body = contextTar(path, { dockerfile: name, extra: { name, content: fs.readFileSync(file) } });
          dockerfile = name;
        } else {
          body = contextTar(path, { dockerfile: rel });
          dockerfile = rel;
        }
      }
      let imageId = '';
      const messages = ctx.client().images.build(body, {
        tags: o.tag,
        dockerfile,
        target: o.target,
        buildargs: buildArgs(o.buildArg, ctx.env),
        labels: keyValues(o.label),
        nocache: o.cache === false,
        pull: o.pull === true,
        quiet: o.quiet === true,
        networkmode: o.network,
        platform: o.platform,
      });
      if (o.quiet === true) {
        // docker buffers the output: the ID alone on success, the whole output on stderr on failure
        let text = '';
        try {
          await printProgress({ write: (s: string) => (text += s) }, messages, { tty: false, width: 200, colour: false }, (aux) => {
            if (typeof aux.ID === 'string') imageId = aux.ID;
          });
        } catch (e) {
          ctx.stderr.write(text);
          throw e;
        }
        ctx.stdout.write(text);
      } else {
        await printProgress(ctx.stdout, messages, termInfo(ctx.stdout, ctx.env), (aux) => {
          if (typeof aux.ID === 'string') imageId = aux.ID;
        });
      }
      if (o.iidfile !== undefined && imageId !== '') fs.writeFileSync(o.iidfile, imageId);
    });
}
