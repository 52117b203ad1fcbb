/** `gantry logs`: the container's output, stdout and stderr to their own streams. */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import type { CliContext } from '../context';

/** docker's `--since`/`--until`: a Go duration before now ("10m", "1h30m"), else passed on (Unix seconds or RFC 3339). */
export function sinceValue(v: string, now: number = Date.now()): string {
  const units: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };
  if (/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(v)) {
    let secs = 0;
    for (const m of v.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) secs += Number(m[1]) * (units[m[2] ?? 's'] ?? 1);
    return (now / 1000 - secs).toFixed(9);
  }
  return v;
}

function tail(v: string): number | 'all' {
  if (v === 'all') return 'all';
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError('invalid syntax');
  return Number(v);
}

export function logsCommand(program: Command, ctx: CliContext): void {
  program
    .command('logs')
    .description('Fetch the logs of a container')
    .argument('<CONTAINER>')
    .option('--details', 'Show extra details provided to logs')
    .option('-f, --follow', 'Follow log output')
    .option('--since <string>', 'Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)')
    .option('-n, --tail <string>', 'Number of lines to show from the end of the logs', tail)
    .option('-t, --timestamps', 'Show timestamps')
    .option('--until <string>', 'Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)')
    .action(async (name: string, o: { follow?: boolean; since?: string; tail?: number | 'all'; timestamps?: boolean; until?: string }) => {
      const frames = ctx.client().containers.logs(name, {
        follow: o.follow,
        since: o.since === undefined ? undefined : sinceValue(o.since),
        until: o.until === undefined ? undefined : sinceValue(o.until),
        timestamps: o.timestamps,
        tail: o.tail,
      });
      for await (const f of frames) (f.stream === 'stderr' ? ctx.stderr : ctx.stdout).write(f.data);
    });
}
