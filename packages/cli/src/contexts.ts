/**
 * Named daemon endpoints (docker's contexts), kept in the CLI's own config dir: `$GANTRY_CONFIG`,
 * else `~/.gantry`. `config.json` holds `currentContext`; each context is `contexts/<name>.json`
 * (`{"Name", "Description", "Host"}`). `default` is built in: the environment's host.
 */
import * as fs from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_UNIX_SOCKET } from '@gantry/client';
import { CliError } from './errors';

export interface StoredContext {
  Name: string;
  Description: string;
  Host: string;
}

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.+-]+$/;

export class ContextStore {
  constructor(readonly dir: string) {}

  static of(env: NodeJS.ProcessEnv): ContextStore {
    return new ContextStore(env.GANTRY_CONFIG ?? join(env.HOME ?? homedir(), '.gantry'));
  }

  private path(name: string): string {
    return join(this.dir, 'contexts', `${name}.json`);
  }

  current(): string {
    try {
      const cfg = JSON.parse(fs.readFileSync(join(this.dir, 'config.json'), 'utf8')) as { currentContext?: string };
      return cfg.currentContext !== undefined && cfg.currentContext !== '' ? cfg.currentContext : 'default';
    } catch {
      return 'default';
    }
  }

  setCurrent(name: string): void {
    if (name !== 'default') this.get(name);
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const path = join(this.dir, 'config.json');
    let cfg: Record<string, unknown> = {};
    try {
      cfg = JSON.parse(fs.readFileSync(path, 'utf8')) as Record<string, unknown>;
    } catch {
      // a new config
    }
    if (name === 'default') delete cfg.currentContext;
    else cfg.currentContext = name;
    fs.writeFileSync(`${path}.tmp`, JSON.stringify(cfg, null, '\t') + '\n', { mode: 0o600 });
    fs.renameSync(`${path}.tmp`, path);
  }

  /** A stored context; `default` is the environment's (or the default socket). */
  get(name: string, env: NodeJS.ProcessEnv = {}): StoredContext {
    if (name === 'default') return { Name: 'default', Description: 'Current DOCKER_HOST based configuration', Host: defaultHost(env) };
    try {
      return JSON.parse(fs.readFileSync(this.path(name), 'utf8')) as StoredContext;
    } catch {
      throw new CliError(`context "${name}" does not exist`, 1);
    }
  }

  list(env: NodeJS.ProcessEnv = {}): StoredContext[] {
    let names: string[] = [];
    try {
      names = fs.readdirSync(join(this.dir, 'contexts')).filter((f) => f.endsWith('.json'));
    } catch {
      // none stored
    }
    const stored = names.map((f) => this.get(f.slice(0, -'.json'.length)));
    stored.sort((a, b) => (a.Name < b.Name ? -1 : 1));
    return [this.get('default', env), ...stored];
  }

  create(c: StoredContext): void {
    if (c.Name === 'default') throw new CliError('"default" is a reserved context name', 1);
    if (!NAME.test(c.Name)) throw new CliError(`context name "${c.Name}" is invalid, names are validated against regexp "^[a-zA-Z0-9][a-zA-Z0-9_.+-]+$"`, 1);
    if (fs.existsSync(this.path(c.Name))) throw new CliError(`context "${c.Name}" already exists`, 1);
    fs.mkdirSync(join(this.dir, 'contexts'), { recursive: true, mode: 0o700 });
    fs.writeFileSync(this.path(c.Name), JSON.stringify(c, null, '\t') + '\n', { mode: 0o600 });
  }

  remove(name: string): void {
    if (name === 'default') throw new CliError('default: context "default" cannot be removed', 1);
    this.get(name);
    fs.rmSync(this.path(name));
    if (this.current() === name) this.setCurrent('default');
  }
}

function defaultHost(env: NodeJS.ProcessEnv): string {
  return env.GANTRY_HOST ?? env.DOCKER_HOST ?? `unix://${DEFAULT_UNIX_SOCKET}`;
}

/**
 * Which endpoint a command talks to, in docker's order: `-H`, else `--context`/`GANTRY_CONTEXT`,
 * else `GANTRY_HOST`/`DOCKER_HOST`, else the current context of the config, else the default.
 */
export function resolveEndpoint(flags: { host?: string; context?: string }, env: NodeJS.ProcessEnv): { host?: string; context: string } {
  if (flags.host !== undefined && flags.context !== undefined) throw new CliError('conflicting options: cannot specify both --host and --context', 1);
  if (flags.host !== undefined) return { host: flags.host, context: 'default' };
  const named = flags.context ?? (env.GANTRY_CONTEXT !== undefined && env.GANTRY_CONTEXT !== '' ? env.GANTRY_CONTEXT : undefined);
  const store = ContextStore.of(env);
  if (named !== undefined) return { host: store.get(named, env).Host, context: named };
  if (env.GANTRY_HOST !== undefined || env.DOCKER_HOST !== undefined) return { context: 'default' };
  const current = store.current();
  return current === 'default' ? { context: 'default' } : { host: store.get(current, env).Host, context: current };
}
