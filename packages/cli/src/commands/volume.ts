/** `gantry volume create|ls|inspect|rm|prune`: docker's flags, columns and messages. */
import type { Command } from 'commander';
import { NotFoundError, type Volume } from '@gantry/client';
import { humanSize, humanSizeWithPrecision } from '@gantry/format';
import type { CliContext } from '../context';
import { CliError } from '../errors';
import { listFormat } from '../format';
import { collect, toFilters } from '../options';
import { confirm, inspectEach, joinLabels, keyValues } from '../objects';
import { forEach } from './each';

const HEADER = {
  Name: 'VOLUME NAME',
  Driver: 'DRIVER',
  Scope: 'SCOPE',
  Mountpoint: 'MOUNTPOINT',
  Labels: 'LABELS',
  Links: 'LINKS',
  Size: 'SIZE',
  Group: 'GROUP',
  Availability: 'AVAILABILITY',
  Status: 'STATUS',
};

class VolumeRow {
  constructor(private readonly v: Volume) {}
  get Name(): string {
    return this.v.Name;
  }
  get Driver(): string {
    return this.v.Driver;
  }
  get Scope(): string {
    return this.v.Scope;
  }
  get Mountpoint(): string {
    return this.v.Mountpoint;
  }
  get Labels(): string {
    return joinLabels(this.v.Labels);
  }
  get Links(): string {
    return this.v.UsageData == null ? 'N/A' : String(this.v.UsageData.RefCount);
  }
  get Size(): string {
    return this.v.UsageData == null || this.v.UsageData.Size < 0 ? 'N/A' : humanSizeWithPrecision(this.v.UsageData.Size, 3);
  }
  get Group(): string {
    return 'N/A';
  }
  get Availability(): string {
    return 'N/A';
  }
  get Status(): string {
    return 'N/A';
  }
  Label(name: string): string {
    return this.v.Labels?.[name] ?? '';
  }
}

export function volumeCommand(parent: Command, ctx: CliContext): void {
  const volume = parent.command('volume').description('Manage volumes');

  volume
    .command('create')
    .description('Create a volume')
    .argument('[VOLUME]')
    .option('-d, --driver <string>', 'Specify volume driver name', 'local')
    .option('--label <list>', 'Set metadata for a volume', collect)
    .option('--name <string>', 'Specify volume name')
    .option('-o, --opt <map>', 'Set driver specific options', collect)
    .action(async (arg: string | undefined, o: { driver: string; label?: string[]; name?: string; opt?: string[] }) => {
      if (arg !== undefined && o.name !== undefined && arg !== o.name) {
        throw new CliError(`conflicting options: cannot specify a volume-name through both --name and as a positional arg`, 1);
      }
      const v = await ctx.client().volumes.create({
        Name: arg ?? o.name ?? '',
        Driver: o.driver,
        DriverOpts: keyValues(o.opt) ?? {},
        Labels: keyValues(o.label) ?? {},
      });
      ctx.stdout.write(v.Name + '\n');
    });

  volume
    .command('ls')
    .alias('list')
    .description('List volumes')
    .option('-f, --filter <filter>', 'Provide filter values (e.g. "dangling=true")', collect)
    .option('--format <string>', "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or 'TEMPLATE'")
    .option('-q, --quiet', 'Only display volume names')
    .action(async (o: { filter?: string[]; format?: string; quiet?: boolean }) => {
      const fmt = listFormat(o.format ?? '', {
        defaultTable: 'table {{.Driver}}\t{{.Name}}',
        quiet: o.quiet === true && (o.format === undefined || o.format === ''),
      });
      const res = await ctx.client().volumes.list({ filters: toFilters(o.filter) });
      const list = res.Volumes ?? [];
      list.sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0));
      for (const w of res.Warnings ?? []) ctx.stderr.write(w + '\n');
      // quiet rows print the name (docker's quiet volume format is {{.Name}})
      const rows = list.map((v) => new VolumeRow(v));
      ctx.stdout.write(o.quiet === true && (o.format === undefined || o.format === '') ? rows.map((r) => r.Name + '\n').join('') : fmt.render(rows, HEADER));
    });

  volume
    .command('inspect')
    .description('Display detailed information on one or more volumes')
    .argument('<VOLUME...>')
    .option('-f, --format <string>', "Format output using a custom template: 'json' or 'TEMPLATE'")
    .action((names: string[], o: { format?: string }) => inspectEach(ctx, names, o.format, (n) => ctx.client().volumes.inspect(n)));

  volume
    .command('rm')
    .alias('remove')
    .description('Remove one or more volumes')
    .argument('<VOLUME...>')
    .option('-f, --force', 'Force the removal of one or more volumes')
    .action((names: string[], o: { force?: boolean }) =>
      forEach(ctx, names, async (n) => {
        try {
          await ctx.client().volumes.remove(n, { force: o.force === true });
        } catch (e) {
          if (!(o.force === true && e instanceof NotFoundError)) throw e;
        }
        return `${n}\n`;
      }),
    );

  volume
    .command('prune')
    .description('Remove unused local volumes')
    .option('-a, --all', 'Remove all unused volumes, not just anonymous ones')
    .option('--filter <filter>', 'Provide filter values (e.g. "label=<label>")', collect)
    .option('-f, --force', 'Do not prompt for confirmation')
    .action(async (o: { all?: boolean; filter?: string[]; force?: boolean }) => {
      const filters = toFilters(o.filter) ?? {};
      if (o.all === true) {
        if (filters.all !== undefined) throw new CliError('conflicting options: cannot specify both --all and --filter all=1', 1);
        filters.all = ['true'];
      }
      const warning =
        o.all === true
          ? 'WARNING! This will remove all local volumes not used by at least one container.'
          : 'WARNING! This will remove anonymous local volumes not used by at least one container.';
      if (o.force !== true && !(await confirm(ctx, warning))) return;
      const res = await ctx.client().volumes.prune({ filters });
      const deleted = res.VolumesDeleted ?? [];
      let out = deleted.length > 0 ? `Deleted Volumes:\n${deleted.map((n) => n + '\n').join('')}\n` : '';
      out += `Total reclaimed space: ${humanSize(res.SpaceReclaimed)}\n`;
      ctx.stdout.write(out);
    });
}
