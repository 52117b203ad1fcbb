/** `gantry ps`: docker's container list, its columns, `--format`, filters, `-n`/`-l` and `-s`. */
import type { Command } from 'commander';
import type { ContainerSummary } from '@gantry/client';
import { containerNames, displayablePorts, formatCommand, humanSizeWithPrecision, timeAgo, truncateId } from '@gantry/format';
import type { CliContext } from '../context';
import { listFormat } from '../format';
import { collect, integer, toFilters } from '../options';
import { goTime } from '../time';

const HEADER = {
  ID: 'CONTAINER ID',
  Image: 'IMAGE',
  Command: 'COMMAND',
  CreatedAt: 'CREATED AT',
  RunningFor: 'CREATED',
  Status: 'STATUS',
  Ports: 'PORTS',
  Names: 'NAMES',
  Size: 'SIZE',
  Labels: 'LABELS',
  Mounts: 'MOUNTS',
  Networks: 'NETWORKS',
  State: 'STATE',
  LocalVolumes: 'LOCAL VOLUMES',
};

/** A row of the template: capitalised getters are docker's container context fields. */
export class ContainerRow {
  constructor(
    private readonly c: ContainerSummary,
    private readonly trunc: boolean,
  ) {}
  get ID(): string {
    return this.trunc ? truncateId(this.c.Id) : this.c.Id;
  }
  get Image(): string {
    const img = this.c.Image;
    if (this.trunc && img.startsWith('sha256:')) return truncateId(img.slice('sha256:'.length));
    return img;
  }
  get Command(): string {
    return formatCommand(this.c.Command, this.trunc);
  }
  get CreatedAt(): string {
    return goTime(new Date(this.c.Created * 1000));
  }
  get RunningFor(): string {
    return timeAgo(this.c.Created * 1000);
  }
  get Status(): string {
    return this.c.Status;
  }
  get State(): string {
    return this.c.State;
  }
  get Ports(): string {
    return displayablePorts(this.c.Ports ?? []);
  }
  get Names(): string {
    return containerNames(this.c.Names, this.trunc);
  }
  get Size(): string {
    const rw = humanSizeWithPrecision(this.c.SizeRw ?? 0, 3);
    return this.c.SizeRootFs !== undefined && this.c.SizeRootFs > 0 ? `${rw} (virtual ${humanSizeWithPrecision(this.c.SizeRootFs, 3)})` : rw;
  }
  get Labels(): string {
    return Object.entries(this.c.Labels ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
  }
  Label(name: string): string {
    return this.c.Labels?.[name] ?? '';
  }
  get Mounts(): string {
    return (this.c.Mounts ?? []).map((m) => (m.Name !== undefined && m.Name !== '' ? (this.trunc ? m.Name.slice(0, 15) : m.Name) : m.Source)).join(',');
  }
  get Networks(): string {
    return Object.keys(this.c.NetworkSettings?.Networks ?? {})
      .sort()
      .join(',');
  }
  get LocalVolumes(): string {
    return String((this.c.Mounts ?? []).filter((m) => m.Driver === 'local').length);
  }
}

interface PsOptions {
  all?: boolean;
  quiet?: boolean;
  /** commander turns `--no-trunc` into `trunc: false` (a negatable flag; true by default) */
  trunc?: boolean;
  format?: string;
  filter?: string[];
  last?: number;
  latest?: boolean;
  size?: boolean;
}

export function psCommand(program: Command, ctx: CliContext): void {
  program
    .command('ps')
    .description('List containers')
    .option('-a, --all', 'Show all containers (default shows just running)')
    .option('-f, --filter <filter>', 'Filter output based on conditions provided', collect)
    .option(
      '--format <string>',
      "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template",
    )
    .option('-n, --last <int>', 'Show n last created containers (includes all states)', integer)
    .option('-l, --latest', 'Show the latest created container (includes all states)')
    .option('--no-trunc', "Don't truncate output")
    .option('-q, --quiet', 'Only display container IDs')
    .option('-s, --size', 'Display total file sizes')
    .action(async (_o: unknown, cmd: Command) => {
      const o = cmd.opts<PsOptions>();
      const trunc = o.trunc !== false;
      let table = 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}';
      if (o.size === true) table += '\t{{.Size}}';
      const fmt = listFormat(o.format ?? '', { defaultTable: table, quiet: o.quiet === true && (o.format === undefined || o.format === '') });
      const limit = o.latest === true ? 1 : (o.last ?? -1);
      const list = await ctx.client().containers.list({
        all: o.all === true || limit > 0,
        limit: limit > 0 ? limit : undefined,
        size: o.size === true || /\.Size\b/.test(o.format ?? ''),
        filters: toFilters(o.filter),
      });
      ctx.stdout.write(
        fmt.render(
          list.map((c) => new ContainerRow(c, trunc)),
          HEADER,
        ),
      );
    });
}
