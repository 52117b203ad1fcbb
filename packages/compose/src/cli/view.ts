/** `config`, `ps`, `logs`, `top`, `ls`: what a project is and what it is doing. */
import * as path from 'node:path';
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import type { ContainerSummary } from '@gantry/client';
import { DockerFormat, DOCKER_TABWRITER, displayablePorts, formatCommand, tabwrite, timeAgo } from '@gantry/format';
import { ComposeError } from '../errors';
import { serviceHash } from '../hash';
import { projectJson, projectYaml } from '../render';
import { nameOf, projectContainers, serviceOf } from '../engine/containers';
import { LABEL } from '../engine/labels';
import { colourFor, streamLogs } from '../engine/logs';
import type { ComposeContext } from '../engine/output';
import { globals, load, target } from './project-options';

class PsRow {
  constructor(private readonly c: ContainerSummary) {}
  get ID(): string {
    return this.c.Id;
  }
  get Name(): string {
    return nameOf(this.c);
  }
  get Names(): string {
    return nameOf(this.c);
  }
  get Image(): string {
    return this.c.Image;
  }
  get Command(): string {
    return formatCommand(this.c.Command);
  }
  get Project(): string {
    return this.c.Labels[LABEL.project] ?? '';
  }
  get Service(): string {
    return serviceOf(this.c);
  }
  get RunningFor(): string {
    return timeAgo(this.c.Created * 1000);
  }
  get CreatedAt(): string {
    return new Date(this.c.Created * 1000).toISOString();
  }
  get State(): string {
    return this.c.State;
  }
  get Status(): string {
    return this.c.Status;
  }
  get Ports(): string {
    return displayablePorts(this.c.Ports ?? []);
  }
  get Labels(): string {
    return Object.entries(this.c.Labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
  }
  toJSON(): Record<string, unknown> {
    return {
      ID: this.ID,
      Name: this.Name,
      Image: this.Image,
      Command: this.c.Command,
      Project: this.Project,
      Service: this.Service,
      Created: this.c.Created,
      State: this.State,
      Status: this.Status,
      Ports: this.Ports,
    };
  }
}

const PS_HEADER = {
  ID: 'CONTAINER ID',
  Name: 'NAME',
  Names: 'NAMES',
  Image: 'IMAGE',
  Command: 'COMMAND',
  Service: 'SERVICE',
  RunningFor: 'CREATED',
  Status: 'STATUS',
  Ports: 'PORTS',
  State: 'STATE',
  Project: 'PROJECT',
};
const PS_TABLE = 'table {{.Name}}\t{{.Image}}\t{{.Command}}\t{{.Service}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}';

function tail(v: string): number | 'all' {
  if (v === 'all') return 'all';
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError('invalid syntax');
  return Number(v);
}

/** Project status as `ls` prints it: `running(2), exited(1)`. */
function status(cs: ContainerSummary[]): string {
  const counts = new Map<string, number>();
  for (const c of cs) counts.set(c.State, (counts.get(c.State) ?? 0) + 1);
  return [...counts.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([s, n]) => `${s}(${n})`)
    .join(', ');
}

/** The project's files, absolute (docker-compose 1.x labels them relative to the working directory). */
function configFiles(labels: Record<string, string>): string {
  const dir = labels[LABEL.workingDir] ?? '';
  return (labels[LABEL.configFiles] ?? '')
    .split(',')
    .filter((f) => f !== '')
    .map((f) => (dir === '' ? f : path.resolve(dir, f)))
    .join(',');
}

export function viewCommands(compose: Command, ctx: ComposeContext): void {
  compose
    .command('config')
    .description('Parse, resolve and render compose file in canonical format')
    .argument('[SERVICE...]')
    .option('--format <format>', 'Format the output. Values: [yaml | json]', 'yaml')
    .option('--services', 'Print the service names, one per line')
    .option('--volumes', 'Print the volume names, one per line')
    .option('--hash <services>', 'Print the service config hash, one per line ("*" for all)')
    .option('-q, --quiet', "Only validate the configuration, don't print anything")
    .action((services: string[], o: { format: string; services?: boolean; volumes?: boolean; hash?: string; quiet?: boolean }, cmd: Command) => {
      const p = load(ctx, globals(cmd));
      for (const s of services) if (!(s in p.services)) throw new ComposeError(`no such service: ${s}`);
      if (services.length > 0) for (const s of Object.keys(p.services)) if (!services.includes(s)) delete p.services[s];
      if (o.quiet === true) return;
      if (o.services === true)
        ctx.stdout.write(
          Object.keys(p.services)
            .map((s) => `${s}\n`)
            .join(''),
        );
      else if (o.volumes === true)
        ctx.stdout.write(
          Object.keys(p.volumes)
            .map((v) => `${v}\n`)
            .join(''),
        );
      else if (o.hash !== undefined) {
        const wanted = o.hash === '*' ? Object.keys(p.services) : o.hash.split(',');
        for (const s of wanted) {
          const svc = p.services[s];
          if (svc === undefined) throw new ComposeError(`no such service: ${s}`);
          ctx.stdout.write(`${s} ${serviceHash(svc)}\n`);
        }
      } else if (o.format === 'json') ctx.stdout.write(projectJson(p));
      else if (o.format === 'yaml') ctx.stdout.write(projectYaml(p));
      else throw new ComposeError(`unsupported format "${o.format}"`);
    });

  compose
    .command('ps')
    .description('List containers')
    .argument('[SERVICE...]')
    .option('-a, --all', 'Show all stopped containers (including those created by the run command)')
    .option('-q, --quiet', 'Only display IDs')
    .option('--services', 'Display services')
    .option('--format <format>', 'Format output using a custom template: "table", "json", or a Go template', 'table')
    .action(async (services: string[], o: { all?: boolean; quiet?: boolean; services?: boolean; format: string }, cmd: Command) => {
      const t = target(ctx, globals(cmd));
      const cs = (await projectContainers(ctx.client(), t.name, { services, oneoff: o.all === true })).filter((c) => o.all === true || c.State === 'running');
      if (o.services === true) {
        ctx.stdout.write([...new Set(cs.map(serviceOf))].map((s) => `${s}\n`).join(''));
        return;
      }
      if (o.quiet === true) {
        ctx.stdout.write(cs.map((c) => `${c.Id}\n`).join(''));
        return;
      }
      const f = DockerFormat.parse(o.format, { defaultTable: PS_TABLE });
      ctx.stdout.write(
        f.render(
          cs.map((c) => new PsRow(c)),
          PS_HEADER,
        ),
      );
    });

  compose
    .command('logs')
    .description('View output from containers')
    .argument('[SERVICE...]')
    .option('-f, --follow', 'Follow log output')
    .option('-n, --tail <string>', 'Number of lines to show from the end of the logs for each container', tail)
    .option('-t, --timestamps', 'Show timestamps')
    .option('--no-color', 'Produce monochrome output')
    .option('--no-log-prefix', "Don't print prefix in logs")
    .action(
      async (services: string[], o: { follow?: boolean; tail?: number | 'all'; timestamps?: boolean; color: boolean; logPrefix: boolean }, cmd: Command) => {
        const t = target(ctx, globals(cmd));
        const client = ctx.client();
        const cs = await projectContainers(client, t.name, { services });
        await streamLogs(
          client,
          cs,
          { follow: o.follow, tail: o.tail, timestamps: o.timestamps, colour: o.color && colourFor(ctx.stdout.isTTY), prefix: o.logPrefix },
          ctx.stdout,
        );
      },
    );

  compose
    .command('top')
    .description('Display the running processes')
    .argument('[SERVICE...]')
    .action(async (services: string[], _o: unknown, cmd: Command) => {
      const t = target(ctx, globals(cmd));
      const client = ctx.client();
      for (const c of (await projectContainers(client, t.name, { services })).filter((x) => x.State === 'running')) {
        const top = await client.containers.top(c.Id);
        const rows = [top.Titles ?? [], ...(top.Processes ?? [])];
        ctx.stdout.write(`${nameOf(c)}\n${tabwrite(rows.map((r) => r.join('\t')).join('\n') + '\n', DOCKER_TABWRITER)}\n`);
      }
    });

  compose
    .command('ls')
    .description('List running compose projects')
    .option('-a, --all', 'Show all stopped Compose projects')
    .option('-q, --quiet', 'Only display project names')
    .option('--format <format>', 'Format the output. Values: [table | json]', 'table')
    .option('--filter <filter>', 'Filter output based on conditions provided (name=...)')
    .action(async (o: { all?: boolean; quiet?: boolean; format: string; filter?: string }) => {
      const list = await ctx.client().containers.list({ all: true, filters: { label: [LABEL.project] } });
      const byProject = new Map<string, ContainerSummary[]>();
      for (const c of list) {
        const p = c.Labels[LABEL.project] ?? '';
        byProject.set(p, [...(byProject.get(p) ?? []), c]);
      }
      const nameFilter = o.filter?.startsWith('name=') === true ? o.filter.slice(5) : undefined;
      const rows = [...byProject.entries()]
        .filter(([, cs]) => o.all === true || cs.some((c) => c.State === 'running'))
        .filter(([name]) => nameFilter === undefined || name.includes(nameFilter))
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([name, cs]) => ({ Name: name, Status: status(cs), ConfigFiles: configFiles(cs[0]?.Labels ?? {}) }));
      if (o.quiet === true) ctx.stdout.write(rows.map((r) => `${r.Name}\n`).join(''));
      else if (o.format === 'json') ctx.stdout.write(JSON.stringify(rows) + '\n');
      else
        ctx.stdout.write(
          tabwrite(['NAME\tSTATUS\tCONFIG FILES', ...rows.map((r) => `${r.Name}\t${r.Status}\t${r.ConfigFiles}`)].join('\n') + '\n', DOCKER_TABWRITER),
        );
    });
}
