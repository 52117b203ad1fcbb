/** `gantry info`, `gantry system info|df|prune|events` and `gantry events`: docker's layouts and flags. */
import type { Command } from 'commander';
import type { ContainerSummary, EventMessage, ImageSummary, SystemDataUsage, SystemInfo, Volume } from '@gantry/client';
import { bytesSize, humanSize } from '@gantry/format';
import type { CliContext } from '../context';
import { execute, listFormat, plainTemplate } from '../format';
import { resolveEndpoint } from '../contexts';
import { CLI_VERSION } from '../meta';
import { confirm } from '../objects';
import { collect, toFilters } from '../options';
import { sinceValue } from './logs';
import { verboseDf } from './df-verbose';

/** docker's `info` text: the client's lines, then the server's, each as docker orders them. */
function infoText(info: SystemInfo, context: string): string {
  const l: string[] = ['Client:', ` Version:    ${CLI_VERSION}`, ` Context:    ${context}`, ' Debug Mode: false', '', 'Server:'];
  l.push(
    ` Containers: ${info.Containers}`,
    `  Running: ${info.ContainersRunning}`,
    `  Paused: ${info.ContainersPaused}`,
    `  Stopped: ${info.ContainersStopped}`,
  );
  l.push(` Images: ${info.Images}`, ` Server Version: ${info.ServerVersion}`, ` Storage Driver: ${info.Driver}`);
  for (const [k, v] of info.DriverStatus ?? []) l.push(`  ${k}: ${v}`);
  l.push(` Logging Driver: ${info.LoggingDriver}`, ` Cgroup Driver: ${info.CgroupDriver}`, ` Cgroup Version: ${info.CgroupVersion}`, ' Plugins:');
  l.push(`  Volume: ${info.Plugins.Volume.join(' ')}`, `  Network: ${info.Plugins.Network.join(' ')}`);
  if ((info.Plugins.Authorization ?? []).length > 0) l.push(`  Authorization: ${(info.Plugins.Authorization ?? []).join(' ')}`);
  l.push(`  Log: ${info.Plugins.Log.join(' ')}`, ` Swarm: ${info.Swarm.LocalNodeState}`);
  l.push(` Runtimes: ${Object.keys(info.Runtimes).sort().join(' ')}`, ` Default Runtime: ${info.DefaultRuntime}`, ` Init Binary: ${info.InitBinary}`);
  l.push(` containerd version: ${info.ContainerdCommit.ID}`, ` runc version: ${info.RuncCommit?.ID ?? ''}`, ` init version: ${info.InitCommit?.ID ?? ''}`);
  if (info.SecurityOptions.length > 0) {
    l.push(' Security Options:');
    for (const opt of info.SecurityOptions) {
      const kv = opt.split(',').map((p) => p.split('=') as [string, string]);
      l.push(`  ${kv.find(([k]) => k === 'name')?.[1] ?? opt}`);
      for (const [k, v] of kv) if (k !== 'name') l.push(`   ${k.charAt(0).toUpperCase()}${k.slice(1)}: ${v}`);
    }
  }
  l.push(
    ` Kernel Version: ${info.KernelVersion}`,
    ` Operating System: ${info.OperatingSystem}`,
    ` OSType: ${info.OSType}`,
    ` Architecture: ${info.Architecture}`,
  );
  l.push(
    ` CPUs: ${info.NCPU}`,
    ` Total Memory: ${bytesSize(info.MemTotal)}`,
    ` Name: ${info.Name}`,
    ` ID: ${info.ID}`,
    ` Docker Root Dir: ${info.DockerRootDir}`,
  );
  l.push(` Debug Mode: ${String(info.Debug)}`);
  if (info.HttpProxy !== '') l.push(` HTTP Proxy: ${info.HttpProxy}`);
  if (info.HttpsProxy !== '') l.push(` HTTPS Proxy: ${info.HttpsProxy}`);
  if (info.NoProxy !== '') l.push(` No Proxy: ${info.NoProxy}`);
  if (info.Labels.length > 0) l.push(' Labels:', ...info.Labels.map((x) => `  ${x}`));
  l.push(` Experimental: ${String(info.ExperimentalBuild)}`);
  const cidrs = info.RegistryConfig?.InsecureRegistryCIDRs ?? [];
  if (cidrs.length > 0) l.push(' Insecure Registries:', ...cidrs.map((c) => `  ${c}`));
  if ((info.RegistryConfig?.Mirrors ?? []).length > 0) l.push(' Registry Mirrors:', ...info.RegistryConfig.Mirrors.map((m) => `  ${m}`));
  l.push(` Live Restore Enabled: ${String(info.LiveRestoreEnabled)}`, '');
  return l.join('\n') + '\n';
}

function infoAction(ctx: CliContext) {
  return async (o: { format?: string }, cmd: Command): Promise<void> => {
    const context = resolveEndpoint(cmd.optsWithGlobals<{ host?: string; context?: string }>(), ctx.env).context;
    if (o.format !== undefined && o.format !== '') {
      const t = plainTemplate(o.format === 'json' ? '{{json .}}' : o.format);
      const info = await ctx.client().system.info();
      const data = { ...info, ClientInfo: { Debug: false, Version: CLI_VERSION, Context: context, Plugins: [], Warnings: null }, ServerErrors: null };
      ctx.stdout.write(execute(t, data) + '\n');
      return;
    }
    const info = await ctx.client().system.info();
    ctx.stdout.write(infoText(info, context));
    for (const w of info.Warnings ?? []) ctx.stderr.write(w + '\n');
  };
}

function percentOf(part: number, total: number): string {
  return total > 0 ? `${humanSize(part)} (${Math.floor((part * 100) / total)}%)` : humanSize(part);
}

const active = (c: ContainerSummary): boolean => /running|paused|restarting/.test(c.State);

class DfRow {
  constructor(
    readonly Type: string,
    private readonly total: number,
    private readonly act: number,
    private readonly size: number,
    readonly Reclaimable: string,
  ) {}
  get TotalCount(): string {
    return String(this.total);
  }
  get Active(): string {
    return String(this.act);
  }
  get Size(): string {
    return humanSize(this.size);
  }
}

/** The four rows of `system df`, with docker's arithmetic for what is reclaimable. */
function dfRows(du: SystemDataUsage): DfRow[] {
  const images: ImageSummary[] = du.Images ?? [];
  const used = images.filter((i) => i.Containers > 0 && i.Size >= 0 && i.SharedSize >= 0).reduce((n, i) => n + i.Size - i.SharedSize, 0);
  const cs: ContainerSummary[] = du.Containers ?? [];
  const cSize = cs.reduce((n, c) => n + (c.SizeRw ?? 0), 0);
  const cFree = cs.filter((c) => !active(c)).reduce((n, c) => n + (c.SizeRw ?? 0), 0);
  const vs: Volume[] = du.Volumes ?? [];
  const vSize = vs.reduce((n, v) => n + (v.UsageData != null && v.UsageData.Size >= 0 ? v.UsageData.Size : 0), 0);
  const vFree = vs.filter((v) => (v.UsageData?.RefCount ?? 0) === 0).reduce((n, v) => n + Math.max(0, v.UsageData?.Size ?? 0), 0);
  const bc = (du.BuildCache ?? []) as { InUse?: boolean; Shared?: boolean; Size?: number }[];
  const bSize = bc.filter((b) => b.Shared !== true).reduce((n, b) => n + (b.Size ?? 0), 0);
  const bFree = bc.filter((b) => b.Shared !== true && b.InUse !== true).reduce((n, b) => n + (b.Size ?? 0), 0);
  return [
    new DfRow('Images', images.length, images.filter((i) => i.Containers > 0).length, du.LayersSize, percentOf(du.LayersSize - used, du.LayersSize)),
    new DfRow('Containers', cs.length, cs.filter(active).length, cSize, percentOf(cFree, cSize)),
    new DfRow('Local Volumes', vs.length, vs.filter((v) => (v.UsageData?.RefCount ?? 0) > 0).length, vSize, percentOf(vFree, vSize)),
    new DfRow('Build Cache', bc.length, bc.filter((b) => b.InUse === true).length, bSize, humanSize(bFree)),
  ];
}

/** docker's event line: time, type, action, actor, sorted attributes. */
function eventLine(e: EventMessage): string {
  const at = e.timeNano !== 0 ? nanoTime(e.time, e.timeNano) : e.time !== 0 ? nanoTime(e.time, e.time * 1e9) : '';
  const attrs = Object.entries(e.Actor.Attributes ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .sort();
  return `${at === '' ? '' : `${at} `}${e.Type} ${e.Action} ${e.Actor.ID}${attrs.length > 0 ? ` (${attrs.join(', ')})` : ''}\n`;
}

/**
 * RFC3339 with nine fraction digits in UTC (jsonmessage.RFC3339NanoFixed). timeNano has lost its
 * last digits in a JS number (2^53 < 10^18), so the fraction is rounded to whole microseconds:
 * exact for gantryd's millisecond times, within half a microsecond of dockerd's.
 */
function nanoTime(seconds: number, timeNano: number): string {
  const sec = Math.floor(timeNano / 1e9) === seconds ? seconds : Math.floor(timeNano / 1e9);
  const micros = Math.min(999_999, Math.max(0, Math.round((timeNano - sec * 1e9) / 1000)));
  return new Date(sec * 1000).toISOString().replace(/\.\d{3}Z$/, `.${String(micros).padStart(6, '0')}000Z`);
}

/** `--format json`: the message as docker re-encodes its struct (field order, empty legacy fields left out). */
function eventJson(e: EventMessage): string {
  const legacy = { ...(e.status ? { status: e.status } : {}), ...(e.id ? { id: e.id } : {}), ...(e.from ? { from: e.from } : {}) };
  return JSON.stringify({ ...legacy, Type: e.Type, Action: e.Action, Actor: e.Actor, scope: e.scope, time: e.time, timeNano: e.timeNano });
}

/** The message as Go's events.Message struct: what docker's --format templates see. */
function goEvent(e: EventMessage): Record<string, unknown> {
  return {
    Status: e.status ?? '',
    ID: e.id ?? '',
    From: e.from ?? '',
    Type: e.Type,
    Action: e.Action,
    Actor: e.Actor,
    Scope: e.scope,
    Time: e.time,
    TimeNano: e.timeNano,
  };
}

function eventsCommand(parent: Command, ctx: CliContext): void {
  parent
    .command('events')
    .description('Get real time events from the server')
    .option('-f, --filter <filter>', 'Filter output based on conditions provided', collect)
    .option('--format <string>', "Format output using a custom template: 'json' or 'TEMPLATE'")
    .option('--since <string>', 'Show all events created since timestamp')
    .option('--until <string>', 'Stream events until this timestamp')
    .action(async (o: { filter?: string[]; format?: string; since?: string; until?: string }) => {
      const template = o.format !== undefined && o.format !== '' && o.format !== 'json' ? plainTemplate(o.format) : undefined;
      const stream = ctx.client().system.events({
        filters: toFilters(o.filter),
        since: o.since === undefined ? undefined : sinceValue(o.since),
        until: o.until === undefined ? undefined : sinceValue(o.until),
      });
      for await (const e of stream) {
        if (o.format === 'json') ctx.stdout.write(eventJson(e) + '\n');
        else if (template !== undefined) ctx.stdout.write(execute(template, goEvent(e)) + '\n');
        else ctx.stdout.write(eventLine(e));
      }
    });
}

function dfCommand(parent: Command, ctx: CliContext): void {
  parent
    .command('df')
    .description('Show docker disk usage')
    .option('--format <string>', "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or 'TEMPLATE'")
    .option('-v, --verbose', 'Show detailed information on space usage')
    .action(async (o: { format?: string; verbose?: boolean }) => {
      const fmt = listFormat(o.format ?? '', { defaultTable: 'table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}' });
      const du = await ctx.client().system.df();
      if (o.verbose === true && (o.format ?? '') === '') {
        ctx.stdout.write(verboseDf(du));
        return;
      }
      ctx.stdout.write(fmt.render(dfRows(du), { Type: 'TYPE', TotalCount: 'TOTAL', Active: 'ACTIVE', Size: 'SIZE', Reclaimable: 'RECLAIMABLE' }));
    });
}

function pruneCommand(parent: Command, ctx: CliContext): void {
  parent
    .command('prune')
    .description('Remove unused data')
    .option('-a, --all', 'Remove all unused images not just dangling ones')
    .option('--filter <filter>', 'Provide filter values (e.g. "label=<key>=<value>")', collect)
    .option('-f, --force', 'Do not prompt for confirmation')
    .option('--volumes', 'Prune anonymous volumes')
    .action(async (o: { all?: boolean; filter?: string[]; force?: boolean; volumes?: boolean }) => {
      const what = [
        '  - all stopped containers',
        '  - all networks not used by at least one container',
        ...(o.volumes === true ? ['  - all anonymous volumes not used by at least one container'] : []),
        o.all === true ? '  - all images without at least one container associated to them' : '  - all dangling images',
        o.all === true ? '  - all build cache' : '  - unused build cache',
      ];
      if (o.force !== true && !(await confirm(ctx, `WARNING! This will remove:\n${what.join('\n')}\n`))) return;
      const client = ctx.client();
      const filters = toFilters(o.filter);
      let space = 0;
      const out: string[] = [];
      const c = await client.containers.prune({ filters });
      if ((c.ContainersDeleted ?? []).length > 0) out.push('Deleted Containers:', ...(c.ContainersDeleted ?? []), '');
      space += c.SpaceReclaimed ?? 0;
      const n = await client.networks.prune({ filters });
      if ((n.NetworksDeleted ?? []).length > 0) out.push('Deleted Networks:', ...(n.NetworksDeleted ?? []), '');
      if (o.volumes === true) {
        const v = await client.volumes.prune({ filters });
        if ((v.VolumesDeleted ?? []).length > 0) out.push('Deleted Volumes:', ...(v.VolumesDeleted ?? []), '');
        space += v.SpaceReclaimed;
      }
      const i = await client.images.prune({ filters: { ...(filters ?? {}), dangling: [o.all === true ? 'false' : 'true'] } });
      const deleted = (i.ImagesDeleted ?? []).map((d) => (d.Untagged !== undefined ? `untagged: ${d.Untagged}` : `deleted: ${d.Deleted ?? ''}`));
      if (deleted.length > 0) out.push('Deleted Images:', ...deleted, '');
      space += i.SpaceReclaimed ?? 0;
      out.push(`Total reclaimed space: ${humanSize(space)}`);
      ctx.stdout.write(out.join('\n') + '\n');
    });
}

export function systemCommands(parent: Command, ctx: CliContext): void {
  const infoFlags = (c: Command): Command =>
    c.option('-f, --format <string>', "Format output using a custom template: 'json' or 'TEMPLATE'").action(infoAction(ctx));
  infoFlags(parent.command('info').description('Display system-wide information'));
  eventsCommand(parent, ctx);
  const system = parent.command('system').description('Manage Gantry');
  infoFlags(system.command('info').description('Display system-wide information'));
  eventsCommand(system, ctx);
  dfCommand(system, ctx);
  pruneCommand(system, ctx);
}
