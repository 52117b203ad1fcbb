/** `gantry start` (`-a`/`-i`: attached, the container's status) and `gantry restart`. */
import type { Command } from 'commander';
import type { CliContext } from '../context';
import { CliError, ExitStatus, describeError } from '../errors';
import { integer } from '../options';
import { startAttached } from '../container/attached';
import { forEach } from './each';

export function startCommands(program: Command, ctx: CliContext): void {
  program
    .command('start')
    .description('Start one or more stopped containers')
    .argument('<CONTAINER...>')
    .option('-a, --attach', 'Attach STDOUT/STDERR and forward signals')
    .option('--detach-keys <string>', 'Override the key sequence for detaching a container')
    .option('-i, --interactive', "Attach container's STDIN")
    .action(async (names: string[], o: { attach?: boolean; detachKeys?: string; interactive?: boolean }) => {
      const client = ctx.client();
      if (o.attach === true || o.interactive === true) {
        if (names.length > 1) throw new CliError('you cannot start and attach multiple containers at once', 1);
        const c = await client.containers.inspect(names[0] ?? '');
        const tty = c.Config.Tty === true;
        const stdin = o.interactive === true && c.Config.OpenStdin === true;
        const { status } = await startAttached(ctx, {
          id: c.Id,
          stdin,
          stdout: true,
          stderr: true,
          tty,
          detachKeys: o.detachKeys,
          sigProxy: !tty,
          waitCondition: c.HostConfig.AutoRemove === true ? 'removed' : 'next-exit',
          start: () => client.containers.start(c.Id, { detachKeys: o.detachKeys }),
        });
        if (status !== 0) throw new ExitStatus(status);
        return;
      }
      const failed: string[] = [];
      try {
        await forEach(ctx, names, async (n) => {
          try {
            await client.containers.start(n);
          } catch (e) {
            if (!describeError(e).message.startsWith('Cannot connect')) failed.push(n);
            throw e;
          }
          return `${n}\n`;
        });
      } catch (e) {
        if (e instanceof CliError && failed.length > 0) throw new CliError(`${e.message}\nError: failed to start containers: ${failed.join(', ')}`, 1);
        throw e;
      }
    });

  program
    .command('restart')
    .description('Restart one or more containers')
    .argument('<CONTAINER...>')
    .option('-s, --signal <string>', 'Signal to send to the container')
    .option('-t, --timeout <int>', 'Seconds to wait before killing the container', integer)
    .action((names: string[], o: { signal?: string; timeout?: number }) =>
      forEach(ctx, names, async (n) => {
        await ctx.client().containers.restart(n, { t: o.timeout, signalName: o.signal });
        return `${n}\n`;
      }),
    );
}
