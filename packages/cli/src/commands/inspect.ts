/**
 * `gantry inspect`: containers or images (`--type`), as a JSON array (4-space indentation) or one
 * `-f` template result per object. Names not found are reported after the rest ("Error: No such
 * object: x", status 1), as docker does.
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { NotFoundError, type EngineClient } from '@gantry/client';
import type { CliContext } from '../context';
import { CliError } from '../errors';
import { execute, indentedJson, plainTemplate } from '../format';

type Kind = 'container' | 'image';

function kind(v: string): Kind {
  if (v !== 'container' && v !== 'image') throw new InvalidArgumentError(`"${v}" is not a valid value for --type`);
  return v;
}

async function find(client: EngineClient, name: string, type: Kind | undefined): Promise<unknown> {
  const kinds: Kind[] = type === undefined ? ['container', 'image'] : [type];
  for (const k of kinds) {
    try {
      return k === 'container' ? await client.containers.inspect(name) : await client.images.inspect(name);
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
    }
  }
  return undefined;
}

export function inspectCommand(program: Command, ctx: CliContext): void {
  program
    .command('inspect')
    .description('Return low-level information on Gantry objects')
    .argument('<NAME|ID...>')
    .option(
      '-f, --format <string>',
      "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template",
    )
    .option('-s, --size', 'Display total file sizes if the type is container')
    .option('--type <string>', 'Return JSON for specified type', kind)
    .action(async (names: string[], o: { format?: string; type?: Kind }) => {
      const custom = o.format !== undefined && o.format !== '' && o.format !== 'json';
      const template = custom ? plainTemplate(o.format ?? '') : undefined;
      const client = ctx.client();
      const found: unknown[] = [];
      const missing: string[] = [];
      for (const name of names) {
        const v = await find(client, name, o.type);
        if (v === undefined) missing.push(name);
        else found.push(v);
      }
      if (template !== undefined) for (const v of found) ctx.stdout.write(execute(template, v) + '\n');
      else ctx.stdout.write(found.length === 0 ? '[]\n' : indentedJson(found));
      if (missing.length > 0) {
        const what = o.type ?? 'object';
        throw new CliError(missing.map((n) => `Error: No such ${what}: ${n}`).join('\n'), 1);
      }
    });
}
