/**
 * `system df -v`: docker's four detailed tables (images, containers, local volumes, build cache),
 * each under its heading, with the columns and size precisions of docker's disk-usage formatter.
 */
import type { ContainerSummary, ImageSummary, SystemDataUsage, Volume } from '@gantry/client';
import { humanSize, humanSizeWithPrecision, timeAgo, truncateId } from '@gantry/format';
import { listFormat } from '../format';
import { ContainerRow } from './ps';

class DuImageRow {
  constructor(private readonly i: ImageSummary) {}
  /** the first tag only, as docker's table; an untagged image is `<none>` */
  private get ref(): [string, string] {
    const first = this.i.RepoTags?.find((t) => t !== '<none>:<none>');
    if (first === undefined) return ['<none>', '<none>'];
    const colon = first.lastIndexOf(':');
    return colon > first.lastIndexOf('/') ? [first.slice(0, colon), first.slice(colon + 1)] : [first, '<none>'];
  }
  get Repository(): string {
    return this.ref[0];
  }
  get Tag(): string {
    return this.ref[1];
  }
  get ID(): string {
    return truncateId(this.i.Id.replace(/^sha256:/, ''));
  }
  get CreatedSince(): string {
    return timeAgo(this.i.Created * 1000);
  }
  get Size(): string {
    return humanSizeWithPrecision(this.i.Size, 3);
  }
  get SharedSize(): string {
    return this.i.SharedSize < 0 ? 'N/A' : humanSize(this.i.SharedSize);
  }
  get UniqueSize(): string {
    return this.i.SharedSize < 0 ? 'N/A' : humanSize(this.i.Size - this.i.SharedSize);
  }
  get Containers(): string {
    return String(this.i.Containers);
  }
}

/** docker's disk-usage container row: the state under STATUS, the writable layer's size alone. */
class DuContainerRow extends ContainerRow {
  constructor(private readonly summary: ContainerSummary) {
    super(summary, true);
  }
  override get Status(): string {
    return this.summary.State;
  }
  override get Size(): string {
    return humanSizeWithPrecision(this.summary.SizeRw ?? 0, 3);
  }
}

class DuVolumeRow {
  constructor(private readonly v: Volume) {}
  get Name(): string {
    return this.v.Name;
  }
  get Links(): string {
    return this.v.UsageData == null ? 'N/A' : String(this.v.UsageData.RefCount);
  }
  get Size(): string {
    return this.v.UsageData == null || this.v.UsageData.Size < 0 ? 'N/A' : humanSizeWithPrecision(this.v.UsageData.Size, 3);
  }
}

interface BuildCacheRecord {
  ID?: string;
  Type?: string;
  Size?: number;
  CreatedAt?: string;
  LastUsedAt?: string | null;
  UsageCount?: number;
  Shared?: boolean;
}

class DuCacheRow {
  constructor(private readonly b: BuildCacheRecord) {}
  get ID(): string {
    return (this.b.ID ?? '').slice(0, 12);
  }
  get CacheType(): string {
    return this.b.Type ?? '';
  }
  get Size(): string {
    return humanSizeWithPrecision(this.b.Size ?? 0, 3);
  }
  get CreatedSince(): string {
    return this.b.CreatedAt === undefined ? '' : timeAgo(Date.parse(this.b.CreatedAt));
  }
  get LastUsedSince(): string {
    return this.b.LastUsedAt == null ? '' : timeAgo(Date.parse(this.b.LastUsedAt));
  }
  get UsageCount(): string {
    return String(this.b.UsageCount ?? 0);
  }
  get Shared(): string {
    return String(this.b.Shared === true);
  }
}

function table(format: string, rows: readonly unknown[], header: Record<string, string>): string {
  return listFormat(format, { defaultTable: format }).render(rows, header);
}

/** The whole `system df -v` text. */
export function verboseDf(du: SystemDataUsage): string {
  const cache = (du.BuildCache ?? []) as BuildCacheRecord[];
  const cacheTotal = cache.filter((b) => b.Shared !== true).reduce((n, b) => n + (b.Size ?? 0), 0);
  return [
    'Images space usage:\n\n',
    table(
      'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}',
      (du.Images ?? []).map((i) => new DuImageRow(i)),
      {
        Repository: 'REPOSITORY',
        Tag: 'TAG',
        ID: 'IMAGE ID',
        CreatedSince: 'CREATED',
        Size: 'SIZE',
        SharedSize: 'SHARED SIZE',
        UniqueSize: 'UNIQUE SIZE',
        Containers: 'CONTAINERS',
      },
    ),
    '\nContainers space usage:\n\n',
    table(
      'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}',
      (du.Containers ?? []).map((c) => new DuContainerRow(c)),
      {
        ID: 'CONTAINER ID',
        Image: 'IMAGE',
        Command: 'COMMAND',
        LocalVolumes: 'LOCAL VOLUMES',
        Size: 'SIZE',
        RunningFor: 'CREATED',
        Status: 'STATUS',
        Names: 'NAMES',
      },
    ),
    '\nLocal Volumes space usage:\n\n',
    table(
      'table {{.Name}}\t{{.Links}}\t{{.Size}}',
      (du.Volumes ?? []).map((v) => new DuVolumeRow(v)),
      { Name: 'VOLUME NAME', Links: 'LINKS', Size: 'SIZE' },
    ),
    `\nBuild cache usage: ${humanSize(cacheTotal)}\n\n`,
    table(
      'table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}',
      cache.map((b) => new DuCacheRow(b)),
      {
        ID: 'CACHE ID',
        CacheType: 'CACHE TYPE',
        Size: 'SIZE',
        CreatedSince: 'CREATED',
        LastUsedSince: 'LAST USED',
        UsageCount: 'USAGE',
        Shared: 'SHARED',
      },
    ),
  ].join('');
}
