/** Small container commands: `rename`, `pause`, `unpause`, `top`, `port`, `diff`, `export`. */
import * as fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import type { PortBinding } from '@gantry/client';
import { tabwrite } from '@gantry/format';
import type { CliContext } from '../context';
import { CliError } from '../errors';
import { forEach } from './each';

/** `port`'s lines: `80/tcp -> 0.0.0.0:8080` (or only the addresses for one port), IPv6 in brackets. */
export function portLines(ports: Record<string, PortBinding[] | null> | undefined, filter?: string): string[] {
  const addr = (b: PortBinding): string => {
    const ip = b.HostIp ?? '';
    return `${ip.includes(':') ? `[${ip}]` : ip}:${b.HostPort ?? ''}`;
  };
  const entries = Object.entries(ports ?? {}).filter((e): e is [string, PortBinding[]] => e[1] !== null && e[1].length > 0);
  if (filter !== undefined) {
    const key = filter.includes('/') ? filter : `${filter}/tcp`;
    const found = entries.find(([k]) => k === key);
    if (found === undefined) throw new CliError(`Error: No public port '${key}' published for the container`, 1);
    return found[1].map(addr);
  }
  const portOf = (k: string): number => Number(k.split('/')[0]);
  entries.sort(([a], [b]) => portOf(a) - portOf(b) || a.localeCompare(b));
  return entries.flatMap(([k, bs]) => bs.map((b) => `${k} -> ${addr(b)}`));
}

const KINDS = ['C', 'A', 'D'];

export function containerOpCommands(program: Command, ctx: CliContext): void {
  program
    .command('rename')
    .description('Rename a container')
    .argument('<CONTAINER>')
    .argument('<NEW_NAME>')
    .action(async (name: string, to: string) => {
      if (to.trim() === '') throw new CliError('Error: Neither old nor new names may be empty', 1);
      await ctx.client().containers.rename(name, to);
    });

  program
    .command('pause')
    .description('Pause all processes within one or more containers')
    .argument('<CONTAINER...>')
    .action((names: string[]) =>
      forEach(ctx, names, async (n) => {
        await ctx.client().containers.pause(n);
        return `${n}\n`;
      }),
    );

  program
    .command('unpause')
    .description('Unpause all processes within one or more containers')
    .argument('<CONTAINER...>')
    .action((names: string[]) =>
      forEach(ctx, names, async (n) => {
        await ctx.client().containers.unpause(n);
        return `${n}\n`;
      }),
    );

  program
    .command('top')
    .description('Display the running processes of a container')
    .usage('CONTAINER [ps OPTIONS]')
    .argument('<CONTAINER>')
    .argument('[ps OPTIONS...]')
    .passThroughOptions()
    .allowUnknownOption()
    .action(async (name: string, psArgs: string[]) => {
      const r = await ctx.client().containers.top(name, { psArgs: psArgs.length > 0 ? psArgs.join(' ') : undefined });
      const text = [r.Titles.join('\t'), ...r.Processes.map((p) => p.join('\t'))].join('\n') + '\n';
      ctx.stdout.write(tabwrite(text, { minwidth: 20, tabwidth: 1, padding: 3, padchar: ' ' }));
    });

  program
    .command('port')
    .description('List port mappings or a specific mapping for the container')
    .argument('<CONTAINER>')
    .argument('[PRIVATE_PORT[/PROTO]]')
    .action(async (name: string, port: string | undefined) => {
      const c = await ctx.client().containers.inspect(name);
      const lines = portLines(c.NetworkSettings.Ports, port);
      if (lines.length > 0) ctx.stdout.write(lines.join('\n') + '\n');
    });

  program
    .command('diff')
    .description("Inspect changes to files or directories on a container's filesystem")
    .argument('<CONTAINER>')
    .action(async (name: string) => {
      const changes = await ctx.client().containers.changes(name);
      for (const ch of changes) ctx.stdout.write(`${KINDS[ch.Kind] ?? '?'} ${ch.Path}\n`);
    });

  program
    .command('export')
    .description("Export a container's filesystem as a tar archive")
    .argument('<CONTAINER>')
    .option('-o, --output <string>', 'Write to a file, instead of STDOUT')
    .action(async (name: string, o: { output?: string }) => {
      if (o.output === undefined && (ctx.stdout as { isTTY?: boolean }).isTTY === true) {
        throw new CliError('cowardly refusing to save to a terminal. Use the -o flag or redirect', 1);
      }
      const tar = await ctx.client().containers.export(name);
      if (o.output !== undefined) await pipeline(tar, fs.createWriteStream(o.output));
      else for await (const chunk of tar) ctx.stdout.write(chunk as Buffer);
    });
}
