/** `gantry history`: an image's layers, newest first, with docker's columns, `-H`, `--no-trunc`, `-q` and `--format`. */
import type { Command } from 'commander';
import type { HistoryResponseItem } from '@gantry/client';
import { ellipsis, humanSizeWithPrecision, timeAgo, truncateId } from '@gantry/format';
import type { CliContext } from '../context';
import { listFormat } from '../format';

const HEADER = {
  ID: 'IMAGE',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  CreatedBy: 'CREATED BY',
  Size: 'SIZE',
  Comment: 'COMMENT',
};

/** Go's time.RFC3339 in UTC, as docker prints CreatedAt (the CLI's local zone; UTC here). */
function rfc3339(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

class HistoryRow {
  constructor(
    private readonly h: HistoryResponseItem,
    private readonly trunc: boolean,
    private readonly human: boolean,
  ) {}
  get ID(): string {
    return this.trunc ? truncateId(this.h.Id) : this.h.Id;
  }
  get CreatedSince(): string {
    if (!this.human) return rfc3339(this.h.Created);
    return this.h.Created > 0 ? timeAgo(this.h.Created * 1000) : 'N/A';
  }
  get CreatedAt(): string {
    return rfc3339(this.h.Created);
  }
  get CreatedBy(): string {
    const by = this.h.CreatedBy.replace(/\t/g, ' ');
    return this.trunc ? ellipsis(by, 45) : by;
  }
  get Size(): string {
    return this.human ? humanSizeWithPrecision(this.h.Size, 3) : String(this.h.Size);
  }
  get Comment(): string {
    return this.h.Comment;
  }
}

interface HistoryOptions {
  human?: boolean;
  /** `--no-trunc` (commander's negatable form) */
  trunc?: boolean;
  quiet?: boolean;
  format?: string;
  platform?: string;
}

export function historyCommand(parent: Command, ctx: CliContext): void {
  parent
    .command('history')
    .description('Show the history of an image')
    .argument('<IMAGE>')
    .option('--format <string>', "Format output using a custom template:\n'table', 'table TEMPLATE', 'json' or 'TEMPLATE'")
    .option('-H, --human', 'Print sizes and dates in human readable format (default true)', true)
    .option('--no-human', 'Print sizes in bytes and dates in RFC 3339')
    .option('--no-trunc', "Don't truncate output")
    .option('--platform <string>', 'Show history for the given platform')
    .option('-q, --quiet', 'Only show image IDs')
    .action(async (image: string, o: HistoryOptions) => {
      const fmt = listFormat(o.format ?? '', {
        defaultTable: `table {{.ID}}\t{{.${o.human === false ? 'CreatedAt' : 'CreatedSince'}}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}`,
        quiet: o.quiet === true && (o.format === undefined || o.format === ''),
      });
      const items = await ctx.client().images.history(image);
      ctx.stdout.write(
        fmt.render(
          items.map((h) => new HistoryRow(h, o.trunc !== false, o.human !== false)),
          HEADER,
        ),
      );
    });
}
