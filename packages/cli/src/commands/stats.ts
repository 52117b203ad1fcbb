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
  /** ends this row's stats stream when its container dies */
  abort?: AbortController;
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
      const targets = new Map<string, Target>();
      const following = names.length === 0;
      const ac = new AbortController();
      // docker subscribes before it lists, so no start is missed; replaying from just before the list does the same here
      const since = Math.floor(Date.now() / 1000) - 1;
      if (!following) {
        const errors: string[] = [];
        for (const n of names) {
          try {
            const c = await client.containers.inspect(n);
            targets.set(c.Id, { arg: n, id: c.Id, name: c.Name });
          } catch (e) {
            errors.push(describeError(e).message);
          }
        }
        if (errors.length > 0) throw new CliError(errors.join('\n'), 1);
      } else {
        for (const c of await client.containers.list({ all: o.all === true })) targets.set(c.Id, { arg: c.Id.slice(0, 12), id: c.Id, name: c.Names[0] ?? '' });
      }
      const render = (): string =>
        fmt.render(
          [...targets.values()].map((t) => new StatsRow(t.arg, t.id, t.name, t.sample, o.trunc !== false)),
          STATS_HEADER,
        );
      if (o.stream === false) {
        await Promise.all(
          [...targets.values()].map(async (t) => {
            t.sample = await client.containers.stats(t.id).catch(() => undefined);
          }),
        );
        ctx.stdout.write(render());
        return;
      }
      const tty = (ctx.stdout as { isTTY?: boolean }).isTTY === true;
      const streams: Promise<void>[] = [];
      const collect = (t: Target): void => {
        t.abort = new AbortController();
        const signal = AbortSignal.any([ac.signal, t.abort.signal]);
        streams.push(
          (async () => {
            try {
              for await (const s of client.containers.statsStream(t.id, { signal })) t.sample = s;
            } catch {
              // a container that stops or goes away keeps its last row
            }
          })(),
        );
      };
      for (const t of targets.values()) collect(t);
      const draw = (): void => void ctx.stdout.write((tty ? '\x1b[2J\x1b[H' : '') + render());
      const timer = setInterval(draw, 1000);
      const stopped = new Promise<void>((resolve) => ac.signal.addEventListener('abort', () => resolve(), { once: true }));
      const stop = (): void => {
        clearInterval(timer);
        ac.abort();
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      if (following) {
        // without names the table follows the daemon: rows for containers that start (or, with -a, are created), none for those that die
        followEvents(ctx, since, o.all === true, ac.signal, {
          add: (id, name) => {
            if (targets.has(id)) return;
            const t: Target = { arg: id.slice(0, 12), id, name };
            targets.set(id, t);
            collect(t);
          },
          remove: (id) => {
            targets.get(id)?.abort?.abort();
            targets.delete(id);
          },
        });
        await stopped;
      }
      await Promise.all(streams);
      stop();
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      draw();
    });
}

/** Container start/die (and create with -a) events from `since` until `signal`, in a loop of their own. */
function followEvents(
  ctx: CliContext,
  since: number,
  all: boolean,
  signal: AbortSignal,
  on: { add(id: string, name: string): void; remove(id: string): void },
): void {
  const wanted = all ? ['create', 'start'] : ['start', 'die'];
  const events = ctx.client().system.events({ since, filters: { type: ['container'], event: wanted }, signal });
  void (async () => {
    try {
      for await (const e of events) {
        const id = e.Actor.ID;
        if (e.Action === 'die') on.remove(id);
        else on.add(id, `/${e.Actor.Attributes.name ?? ''}`);
      }
    } catch {
      // the daemon went away or the command was stopped: the rows stay as they are
    }
  })();
}
