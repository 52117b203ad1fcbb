/** `gantry images`: one row per repository:tag (or `<none>`), docker's columns and `--format`. */
import type { Command } from 'commander';
import type { ImageSummary } from '@gantry/client';
import { humanSizeWithPrecision, timeAgo, truncateId } from '@gantry/format';
import type { CliContext } from '../context';
import { listFormat } from '../format';
import { collect, toFilters } from '../options';
import { goTime } from '../time';

const HEADER = {
  ID: 'IMAGE ID',
  Repository: 'REPOSITORY',
  Tag: 'TAG',
  Digest: 'DIGEST',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  Size: 'SIZE',
  Containers: 'CONTAINERS',
  SharedSize: 'SHARED SIZE',
  UniqueSize: 'UNIQUE SIZE',
  VirtualSize: 'VIRTUAL SIZE',
};

class ImageRow {
  constructor(
    private readonly i: ImageSummary,
    readonly Repository: string,
    readonly Tag: string,
    readonly Digest: string,
    private readonly trunc: boolean,
  ) {}
  get ID(): string {
    return this.trunc ? truncateId(this.i.Id.replace(/^sha256:/, '')) : this.i.Id;
  }
  get CreatedSince(): string {
    return timeAgo(this.i.Created * 1000);
  }
  get CreatedAt(): string {
    return goTime(new Date(this.i.Created * 1000));
  }
  get Size(): string {
    return humanSizeWithPrecision(this.i.Size, 3);
  }
  get VirtualSize(): string {
    return humanSizeWithPrecision(this.i.VirtualSize ?? this.i.Size, 3);
  }
  get SharedSize(): string {
    return this.i.SharedSize < 0 ? 'N/A' : humanSizeWithPrecision(this.i.SharedSize, 3);
  }
  get UniqueSize(): string {
    return this.i.SharedSize < 0 ? 'N/A' : humanSizeWithPrecision(this.i.Size - this.i.SharedSize, 3);
  }
  get Containers(): string {
    return this.i.Containers < 0 ? 'N/A' : String(this.i.Containers);
  }
}

/** docker's rows: each tag its own row (with its repository's digest), an untagged image one `<none>` row per digest or one `<none>:<none>`. */
function imageRows(images: readonly ImageSummary[], trunc: boolean): ImageRow[] {
  const rows: ImageRow[] = [];
  const split = (ref: string, sep: string): [string, string] => {
    const i = ref.lastIndexOf(sep);
    return i <= 0 || (sep === ':' && ref.slice(i).includes('/')) ? [ref, '<none>'] : [ref.slice(0, i), ref.slice(i + 1)];
  };
  for (const img of images) {
    const digests = new Map((img.RepoDigests ?? []).map((d) => split(d, '@')));
    const tags = (img.RepoTags ?? []).filter((t) => t !== '<none>:<none>');
    for (const t of tags) {
      const [repo, tag] = split(t, ':');
      rows.push(new ImageRow(img, repo, tag, digests.get(repo) ?? '<none>', trunc));
    }
    if (tags.length === 0) {
      if (digests.size === 0) rows.push(new ImageRow(img, '<none>', '<none>', '<none>', trunc));
      for (const [repo, digest] of digests) rows.push(new ImageRow(img, repo, '<none>', digest, trunc));
    }
  }
  return rows;
}

interface ImagesOptions {
  all?: boolean;
  quiet?: boolean;
  /** commander turns `--no-trunc` into `trunc: false` (a negatable flag; true by default) */
  trunc?: boolean;
  digests?: boolean;
  format?: string;
  filter?: string[];
}

export function imagesCommand(program: Command, ctx: CliContext): void {
  program
    .command('images')
    .description('List images')
    .argument('[REPOSITORY[:TAG]]')
    .option('-a, --all', 'Show all images (default hides intermediate images)')
    .option('--digests', 'Show digests')
    .option('-f, --filter <filter>', 'Filter output based on conditions provided', collect)
    .option(
      '--format <string>',
      "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template",
    )
    .option('--no-trunc', "Don't truncate output")
    .option('-q, --quiet', 'Only show image IDs')
    .action(async (ref: string | undefined, _o: unknown, cmd: Command) => {
      const o = cmd.opts<ImagesOptions>();
      const trunc = o.trunc !== false;
      const table =
        o.digests === true
          ? 'table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}'
          : 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}';
      const fmt = listFormat(o.format ?? '', { defaultTable: table, quiet: o.quiet === true && (o.format === undefined || o.format === '') });
      const filters = toFilters(o.filter) ?? {};
      if (ref !== undefined) filters.reference = [...(filters.reference ?? []), ref];
      const list = await ctx.client().images.list({ all: o.all === true, filters, digests: o.digests === true });
      list.sort((a, b) => b.Created - a.Created);
      ctx.stdout.write(fmt.render(imageRows(list, trunc), HEADER));
    });
}
