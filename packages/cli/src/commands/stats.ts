/**
 * `gantry stats`: one table (`--no-stream`), or a table redrawn about once a second (on a
 * terminal the screen is cleared first, as docker does) until interrupted.
 */
import type { Command } from 'commander';
import type { ContainerStats } from '@gantry/client';
import type { CliContext } from '../context';
import { CliError, describeError } from '../errors';
import { listFormat } from '../format';
import { STATS_HEADER, STATS_TABLE, StatsRow } from '../container/stats-row';

interface StatsOptions {
  all?: boolean;
  format?: string;
  stream?: boolean;
  trunc?: boolean;
}

interface Target {
  arg: string;
  id: string;
  name: string;
  sample?: ContainerStats;
}

export function statsCommand(program: Command, ctx: CliContext): void {
  program
    .command('stats')
    .description('Display a live stream of container(s) resource usage statistics')
    .argument('[CONTAINER...]')
    .option('-a, --all', 'Show all containers (default shows just running)')
    .option('--format <string>', 'Format output using a custom template')
    .option('--no-stream', 'Disable streaming stats and only pull the first result')
    .option('--no-trunc', 'Do not truncate output')
    .action(async (names: string[], o: StatsOptions) => {
      const fmt = listFormat(o.format ?? '', { defaultTable: STATS_TABLE, quiet: false });
      const client = ctx.client();
      let targets: Target[];
      if (names.length > 0) {
        const errors: string[] = [];
        targets = [];
        for (const n of names) {
          try {
            const c = await client.containers.inspect(n);
            targets.push({ arg: n, id: c.Id, name: c.Name });
          } catch (e) {
            errors.push(describeError(e).message);
          }
        }
        if (errors.length > 0) throw new CliError(errors.join('\n'), 1);
      } else {
        targets = (await client.containers.list({ all: o.all === true })).map((c) => ({ arg: c.Id.slice(0, 12), id: c.Id, name: c.Names[0] ?? '' }));
      }
      const render = (): string =>
        fmt.render(
          targets.map((t) => new StatsRow(t.arg, t.id, t.name, t.sample, o.trunc !== false)),
          STATS_HEADER,
        );
      if (o.stream === false) {
        await Promise.all(
          targets.map(async (t) => {
            t.sample = await client.containers.stats(t.id).catch(() => undefined);
          }),
        );
        ctx.stdout.write(render());
        return;
      }
      const tty = (ctx.stdout as { isTTY?: boolean }).isTTY === true;
      const ac = new AbortController();
      const streams = targets.map(async (t) => {
        try {
          for await (const s of client.containers.statsStream(t.id, { signal: ac.signal })) t.sample = s;
        } catch {
          // a container that stops or goes away keeps its last row
        }
      });
      const draw = (): void => void ctx.stdout.write((tty ? '\x1b[2J\x1b[H' : '') + render());
      const timer = setInterval(draw, 1000);
      const stop = (): void => {
        clearInterval(timer);
        ac.abort();
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      await Promise.all(streams);
      stop();
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      draw();
    });
}
