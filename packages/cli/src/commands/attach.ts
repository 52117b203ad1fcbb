/** `gantry attach`: a running container's streams; the status is the container's once it exits. */
import type { Command } from 'commander';
import { Option } from 'commander';
import type { CliContext } from '../context';
import { CliError, ExitStatus } from '../errors';
import { runSession } from '../container/session';
import type { InputStream } from '../container/terminal';
import { boolFlag } from './run';

export function attachCommand(program: Command, ctx: CliContext): void {
  program
    .command('attach')
    .description('Attach local standard input, output, and error streams to a running container')
    .argument('<CONTAINER>')
    .option('--detach-keys <string>', 'Override the key sequence for detaching a container')
    .option('--no-stdin', 'Do not attach STDIN')
    .addOption(new Option('--sig-proxy [bool]', 'Proxy all received signals to the process (default true)').argParser(boolFlag))
    .action(async (name: string, o: { detachKeys?: string; stdin?: boolean; sigProxy?: boolean }) => {
      const client = ctx.client();
      const c = await client.containers.inspect(name);
      if (c.State.Running !== true) throw new CliError('You cannot attach to a stopped container, start it first', 1);
      if (c.State.Paused === true) throw new CliError('You cannot attach to a paused container, unpause it first', 1);
      if (c.State.Restarting === true) throw new CliError('You cannot attach to a restarting container, wait until it is running', 1);
      const tty = c.Config.Tty === true;
      const stdin = o.stdin !== false && c.Config.OpenStdin === true;
      const ac = new AbortController();
      const waited = client.containers.wait(c.Id, { signal: ac.signal });
      waited.catch(() => undefined);
      const stream = await client.containers.attach(c.Id, { stdin, stdout: true, stderr: true, stream: true, detachKeys: o.detachKeys });
      const end = await runSession(ctx, {
        stream,
        stdin: stdin ? (ctx.stdin as InputStream | undefined) : undefined,
        tty,
        detachKeys: o.detachKeys,
        resize: (size) => client.containers.resize(c.Id, size),
        proxySignal: o.sigProxy !== false && !tty ? (s) => client.containers.kill(c.Id, { signalName: s }) : undefined,
      });
      if (end === 'detached') {
        ac.abort();
        return;
      }
      const r = await waited;
      if (r.StatusCode !== 0) throw new ExitStatus(r.StatusCode);
    });
}
