/** Container lifecycle commands over names: `rm`, `stop`, `kill`, `wait`. */
import type { Command } from 'commander';
import type { CliContext } from '../context';
import { integer } from '../options';
import { forEach } from './each';

export function lifecycleCommands(program: Command, ctx: CliContext): void {
  program
    .command('rm')
    .description('Remove one or more containers')
    .argument('<CONTAINER...>')
    .option('-f, --force', 'Force the removal of a running container (uses SIGKILL)')
    .option('-l, --link', 'Remove the specified link')
    .option('-v, --volumes', 'Remove anonymous volumes associated with the container')
    .action((names: string[], o: { force?: boolean; link?: boolean; volumes?: boolean }) =>
      forEach(ctx, names, async (n) => {
        await ctx.client().containers.remove(n, { force: o.force, v: o.volumes, link: o.link });
        return `${n}\n`;
      }),
    );

  program
    .command('stop')
    .description('Stop one or more running containers')
    .argument('<CONTAINER...>')
    .option('-s, --signal <string>', 'Signal to send to the container')
    .option('-t, --timeout <int>', 'Seconds to wait before killing the container', integer)
    .action((names: string[], o: { signal?: string; timeout?: number }) =>
      forEach(ctx, names, async (n) => {
        await ctx.client().containers.stop(n, { t: o.timeout, signalName: o.signal });
        return `${n}\n`;
      }),
    );

  program
    .command('kill')
    .description('Kill one or more running containers')
    .argument('<CONTAINER...>')
    .option('-s, --signal <string>', 'Signal to send to the container')
    .action((names: string[], o: { signal?: string }) =>
      forEach(ctx, names, async (n) => {
        await ctx.client().containers.kill(n, { signalName: o.signal });
        return `${n}\n`;
      }),
    );

  program
    .command('wait')
    .description('Block until one or more containers stop, then print their exit codes')
    .argument('<CONTAINER...>')
    .action((names: string[]) =>
      forEach(ctx, names, async (n) => {
        const r = await ctx.client().containers.wait(n);
        return `${r.StatusCode}\n`;
      }),
    );
}
