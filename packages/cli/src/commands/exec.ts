/** `gantry exec`: a command in a running container; the status is the command's. */
import type { Command } from 'commander';
import type { ExecCreateRequest } from '@gantry/client';
import type { CliContext } from '../context';
import { CliError, ExitStatus } from '../errors';
import { collect } from '../options';
import { runSession } from '../container/session';
import { envEntry, readKeyValueFile } from '../container/specs';
import { terminalSize, type InputStream } from '../container/terminal';

export interface ExecOptions {
  detach?: boolean;
  detachKeys?: string;
  env?: string[];
  envFile?: string[];
  interactive?: boolean;
  privileged?: boolean;
  tty?: boolean;
  user?: string;
  workdir?: string;
}

/** The exec create body docker sends for these flags. */
export function execRequest(cmd: readonly string[], o: ExecOptions, env: NodeJS.ProcessEnv, consoleSize?: [number, number]): ExecCreateRequest {
  const envs = [...(o.envFile ?? []).flatMap((f) => readKeyValueFile(f, env)), ...(o.env ?? [])].map((e) => envEntry(e, env));
  const body: ExecCreateRequest = {
    User: o.user ?? '',
    Privileged: o.privileged === true,
    Tty: o.tty === true,
    AttachStdin: o.interactive === true && o.detach !== true,
    AttachStdout: o.detach !== true,
    AttachStderr: o.detach !== true,
    DetachKeys: o.detachKeys ?? '',
    Env: envs,
    WorkingDir: o.workdir ?? '',
    Cmd: [...cmd],
  };
  if (consoleSize !== undefined) body.ConsoleSize = consoleSize;
  return body;
}

export function execCommand(program: Command, ctx: CliContext): void {
  program
    .command('exec')
    .description('Execute a command in a running container')
    .usage('[OPTIONS] CONTAINER COMMAND [ARG...]')
    .argument('<CONTAINER>')
    .argument('<COMMAND...>')
    .passThroughOptions()
    .option('-d, --detach', 'Detached mode: run command in the background')
    .option('--detach-keys <string>', 'Override the key sequence for detaching a container')
    .option('-e, --env <list>', 'Set environment variables', collect)
    .option('--env-file <list>', 'Read in a file of environment variables', collect)
    .option('-i, --interactive', 'Keep STDIN open even if not attached')
    .option('--privileged', 'Give extended privileges to the command')
    .option('-t, --tty', 'Allocate a pseudo-TTY')
    .option('-u, --user <string>', 'Username or UID (format: "<name|uid>[:<group|gid>]")')
    .option('-w, --workdir <string>', 'Working directory inside the container')
    .action(async (container: string, cmd: string[], o: ExecOptions) => {
      const client = ctx.client();
      const size = o.tty === true ? terminalSize(ctx.stdout) : undefined;
      const c = await client.containers.inspect(container);
      if (c.State.Running !== true) throw new CliError(`Error response from daemon: container ${c.Id} is not running`, 1);
      const { Id } = await client.exec.create(container, execRequest(cmd, o, ctx.env, size === undefined ? undefined : [size.h, size.w]));
      if (o.detach === true) {
        await client.exec.startDetached(Id, { tty: o.tty });
        return;
      }
      const stream = await client.exec.start(Id, { tty: o.tty, consoleSize: size === undefined ? undefined : [size.h, size.w] });
      const end = await runSession(ctx, {
        stream,
        stdin: o.interactive === true ? (ctx.stdin as InputStream | undefined) : undefined,
        tty: o.tty === true,
        detachKeys: o.detachKeys,
        resize: (s) => client.exec.resize(Id, s),
      });
      if (end === 'detached') return;
      const r = await client.exec.inspect(Id);
      if ((r.ExitCode ?? 0) !== 0) throw new ExitStatus(r.ExitCode ?? 0);
    });
}
