/** `gantry context create|ls|use|rm|inspect|show`: named daemon endpoints (see src/contexts.ts for where they live). */
import type { Command } from 'commander';
import type { CliContext } from '../context';
import { ContextStore, resolveEndpoint, type StoredContext } from '../contexts';
import { CliError } from '../errors';
import { execute, indentedJson, listFormat, plainTemplate } from '../format';

class ContextRow {
  constructor(
    private readonly c: StoredContext,
    readonly Current: boolean,
  ) {}
  get Name(): string {
    return this.c.Name + (this.Current ? ' *' : '');
  }
  get Description(): string {
    return this.c.Description;
  }
  get DockerEndpoint(): string {
    return this.c.Host;
  }
  get Error(): string {
    return '';
  }
}

/** `--docker host=unix:///x.sock[,skip-tls-verify=…]`: the host of docker's endpoint syntax. */
function endpointHost(spec: string): string {
  for (const part of spec.split(',')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i) === 'host') return part.slice(i + 1);
  }
  throw new CliError(`unable to create docker endpoint config: no host in "${spec}"`, 1);
}

function inspectJson(store: ContextStore, c: StoredContext): unknown {
  return {
    Name: c.Name,
    Metadata: { Description: c.Description },
    Endpoints: { docker: { Host: c.Host, SkipTLSVerify: false } },
    TLSMaterial: {},
    Storage: { MetadataPath: c.Name === 'default' ? '<IN MEMORY>' : `${store.dir}/contexts/${c.Name}.json`, TLSPath: '<IN MEMORY>' },
  };
}

export function contextCommand(parent: Command, ctx: CliContext): void {
  const context = parent.command('context').description('Manage contexts');
  const store = (): ContextStore => ContextStore.of(ctx.env);
  const current = (cmd: Command): string => resolveEndpoint(cmd.optsWithGlobals<{ host?: string; context?: string }>(), ctx.env).context;

  context
    .command('create')
    .description('Create a context')
    .argument('<CONTEXT>')
    .option('--description <string>', 'Description of the context')
    .option('--docker <stringToString>', 'set the docker endpoint (host=unix:///path.sock)')
    .option('--from <string>', 'create context from a named context')
    .action((name: string, o: { description?: string; docker?: string; from?: string }) => {
      const s = store();
      const from = o.from !== undefined ? s.get(o.from, ctx.env) : undefined;
      const host = o.docker !== undefined ? endpointHost(o.docker) : (from?.Host ?? s.get('default', ctx.env).Host);
      s.create({ Name: name, Description: o.description ?? from?.Description ?? '', Host: host });
      ctx.stdout.write(name + '\n');
      ctx.stderr.write(`Successfully created context "${name}"\n`);
    });

  context
    .command('ls')
    .alias('list')
    .description('List contexts')
    .option('--format <string>', "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or 'TEMPLATE'")
    .option('-q, --quiet', 'Only show context names')
    .action((o: { format?: string; quiet?: boolean }, cmd: Command) => {
      const cur = current(cmd);
      const rows = store()
        .list(ctx.env)
        .map((c) => new ContextRow(c, c.Name === cur));
      if (o.quiet === true) {
        ctx.stdout.write(rows.map((r) => r.Name.replace(/ \*$/, '') + '\n').join(''));
        return;
      }
      const fmt = listFormat(o.format ?? '', { defaultTable: 'table {{.Name}}\t{{.Description}}\t{{.DockerEndpoint}}\t{{.Error}}' });
      ctx.stdout.write(fmt.render(rows, { Name: 'NAME', Description: 'DESCRIPTION', DockerEndpoint: 'DOCKER ENDPOINT', Error: 'ERROR', Current: 'CURRENT' }));
    });

  context
    .command('use')
    .description('Set the current gantry context')
    .argument('<CONTEXT>')
    .action((name: string) => {
      store().setCurrent(name);
      ctx.stdout.write(name + '\n');
      ctx.stderr.write(`Current context is now "${name}"\n`);
    });

  context
    .command('show')
    .description('Print the name of the current context')
    .action((_o: unknown, cmd: Command) => {
      ctx.stdout.write(current(cmd) + '\n');
    });

  context
    .command('rm')
    .alias('remove')
    .description('Remove one or more contexts')
    .argument('<CONTEXT...>')
    .option('-f, --force', 'Force the removal of a context in use')
    .action((names: string[]) => {
      const errors: string[] = [];
      for (const n of names) {
        try {
          store().remove(n);
          ctx.stdout.write(n + '\n');
        } catch (e) {
          errors.push(e instanceof Error ? e.message : String(e));
        }
      }
      if (errors.length > 0) throw new CliError(errors.join('\n'), 1);
    });

  context
    .command('inspect')
    .description('Display detailed information on one or more contexts')
    .argument('[CONTEXT...]')
    .option('-f, --format <string>', "Format output using a custom template: 'json' or 'TEMPLATE'")
    .action((names: string[], o: { format?: string }, cmd: Command) => {
      const s = store();
      const list = (names.length > 0 ? names : [current(cmd)]).map((n) => inspectJson(s, s.get(n, ctx.env)));
      if (o.format !== undefined && o.format !== '' && o.format !== 'json') {
        const t = plainTemplate(o.format);
        for (const v of list) ctx.stdout.write(execute(t, v) + '\n');
      } else ctx.stdout.write(indentedJson(list));
    });
}
