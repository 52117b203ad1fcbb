/** `gantry run` and `gantry create`: the container config from docker's flags, a pull if the image is missing. */
import type { Command } from 'commander';
import { Option } from 'commander';
import type { CliContext } from '../context';
import { CliError, ExitStatus, describeError } from '../errors';
import { startAttached, writeCidFile } from '../container/attached';
import { addCreateOptions, createRequest, hasOsFlags, unsupportedOsFlags, type CreateOptions } from '../container/flags';
import { createPulling } from '../container/pull';
import { addApiSocket, copyCredentials } from '../container/api-socket';
import { allCredentials } from '../credentials';
import type { ContainerCreateResponse } from '@gantry/client';

interface RunOptions extends CreateOptions {
  detach?: boolean;
  sigProxy?: boolean;
}

/** docker's boolean flags take `--flag=false`. */
export function boolFlag(v: string | undefined): boolean {
  if (v === undefined || ['1', 't', 'T', 'true', 'TRUE', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(v)) return false;
  throw new CliError(`strconv.ParseBool: parsing "${v}": invalid syntax`, 125);
}

/** The status docker's `run` gives a failure to start: 127 for a missing command, 126 for one that cannot run, else 125. */
export function runFailureStatus(message: string): number {
  if (/executable file not found|no such file or directory|system cannot find the file specified/.test(message)) return 127;
  if (/permission denied|cannot execute|exec format error/i.test(message)) return 126;
  return 125;
}

function runError(path: string, e: unknown): CliError {
  if (e instanceof CliError && e.message.startsWith('gantry: ')) return e;
  const d = describeError(e);
  if (d.message.startsWith('Cannot connect')) return new CliError(d.message, 1);
  return new CliError(`gantry: ${d.message}\n\nRun '${path} --help' for more information`, runFailureStatus(d.message));
}

/** docker's check of OS-specific flags against the daemon's OS (asked only when such a flag is given). */
async function checkOsFlags(ctx: CliContext, o: CreateOptions): Promise<void> {
  if (!hasOsFlags(o)) return;
  const refused = unsupportedOsFlags(o, (await ctx.client().system.ping()).osType);
  if (refused !== undefined) throw new CliError(refused, 1);
}

/** The create request, a pull when the image is missing, and what `--use-api-socket` copies in afterwards. */
async function createContainer(
  ctx: CliContext,
  image: string,
  args: readonly string[],
  o: CreateOptions,
  detach: boolean,
): Promise<{ created: ContainerCreateResponse; req: ReturnType<typeof createRequest> }> {
  const req = createRequest(image, args, o, ctx.env, detach);
  const credentials = o.useApiSocket === true ? allCredentials(ctx.env) : {};
  if (o.useApiSocket === true) addApiSocket(req.body, ctx.client().host, credentials);
  const created = await createPulling(ctx, req.body, { name: req.name, platform: req.platform, pull: o.pull, quiet: o.quiet });
  for (const w of created.Warnings ?? []) ctx.stderr.write(`WARNING: ${w}\n`);
  writeCidFile(o.cidfile, created.Id);
  await copyCredentials(ctx, created.Id, credentials);
  return { created, req };
}

export function runCommand(program: Command, ctx: CliContext, path = 'gantry run'): void {
  addCreateOptions(
    program
      .command('run')
      .description('Create and run a new container from an image')
      .usage('[OPTIONS] IMAGE [COMMAND] [ARG...]')
      .argument('<IMAGE>')
      .argument('[COMMAND...]')
      .passThroughOptions()
      .option('-d, --detach', 'Run container in background and print container ID')
      .option('--detach-keys <string>', 'Override the key sequence for detaching a container')
      .addOption(new Option('--sig-proxy [bool]', 'Proxy received signals to the process (default true)').argParser(boolFlag)),
  ).action(async (image: string, args: string[], o: RunOptions) => {
    await checkOsFlags(ctx, o);
    try {
      const { created, req } = await createContainer(ctx, image, args, o, o.detach === true);
      const client = ctx.client();
      if (o.detach === true) {
        // docker 28 prints the ID alongside the start, so it is there even when the start fails
        ctx.stdout.write(`${created.Id}\n`);
        await client.containers.start(created.Id);
        return;
      }
      const body = req.body;
      const { status } = await startAttached(ctx, {
        id: created.Id,
        stdin: body.AttachStdin === true,
        stdout: body.AttachStdout === true,
        stderr: body.AttachStderr === true,
        tty: body.Tty === true,
        detachKeys: o.detachKeys,
        sigProxy: o.sigProxy !== false && body.Tty !== true,
        waitCondition: body.HostConfig?.AutoRemove === true ? 'removed' : 'next-exit',
        start: () => client.containers.start(created.Id),
      });
      if (status !== 0) throw new ExitStatus(status);
    } catch (e) {
      if (e instanceof ExitStatus) throw e;
      throw runError(path, e);
    }
  });
}

export function createCommand(program: Command, ctx: CliContext): void {
  addCreateOptions(
    program
      .command('create')
      .description('Create a new container')
      .usage('[OPTIONS] IMAGE [COMMAND] [ARG...]')
      .argument('<IMAGE>')
      .argument('[COMMAND...]')
      .passThroughOptions(),
  ).action(async (image: string, args: string[], o: CreateOptions) => {
    await checkOsFlags(ctx, o);
    const { created } = await createContainer(ctx, image, args, o, false);
    ctx.stdout.write(`${created.Id}\n`);
  });
}
