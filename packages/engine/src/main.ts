#!/usr/bin/env node
/**
 * gantryd [-H unix:///run/gantry/gantry.sock] [--data-root /var/lib/gantry] [--exec-root /run/gantry]
 *         [--containerd <socket>] [--log-level info]
 *
 * The Docker Engine API on a unix socket. Without --containerd it runs its own gantry-containerd,
 * so this one command brings the whole stack up. JSON logs on stderr.
 */
import { Logger, type Level } from '@gantry/containerd';
import { startEngine, type EngineOptions } from './daemon';

function parse(argv: string[]): EngineOptions & { logLevel: Level } {
  const o: EngineOptions & { logLevel: Level } = { host: '/run/gantry/gantry.sock', dataRoot: '/var/lib/gantry', execRoot: '/run/gantry', logLevel: 'info' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const value = () => {
      const v = eq > 0 ? arg.slice(eq + 1) : argv[++i];
      if (v === undefined) throw new Error(`${name} needs a value`);
      return v;
    };
    switch (name) {
      case '-H':
      case '--host': {
        const v = value();
        if (!v.startsWith('unix://') && !v.startsWith('/')) throw new Error(`only unix sockets are supported: ${v}`);
        o.host = v.replace(/^unix:\/\//, '');
        break;
      }
      case '--data-root':
        o.dataRoot = value();
        break;
      case '--exec-root':
        o.execRoot = value();
        break;
      case '--bridge':
      case '-b':
        o.defaultBridge = value();
        if (!/^[a-zA-Z0-9_.-]{1,15}$/.test(o.defaultBridge)) throw new Error(`invalid --bridge ${o.defaultBridge}`);
        break;
      case '--containerd':
        o.containerd = value().replace(/^unix:\/\//, '');
        break;
      case '--insecure-registry':
        (o.insecureRegistries ??= []).push(value());
        break;
      case '--log-level':
      case '-l': {
        const v = value();
        if (!['debug', 'info', 'warn', 'error'].includes(v)) throw new Error(`invalid --log-level ${v}`);
        o.logLevel = v as Level;
        break;
      }
      case '--help':
      case '-h':
        process.stdout.write('usage: gantryd [-H unix:///run/gantry/gantry.sock] [--data-root dir] [--exec-root dir] [--containerd socket] [--insecure-registry host[:port]]... [--bridge gantry0] [--log-level level]\n');
        process.exit(0);
        break;
      default:
        throw new Error(`unknown flag ${arg}`);
    }
  }
  return o;
}

async function main(): Promise<void> {
  let opts: ReturnType<typeof parse>;
  try {
    opts = parse(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`gantryd: ${(e as Error).message}\n`);
    process.exit(2);
  }
  const log = new Logger(opts.logLevel, { component: 'gantryd' });
  const engine = await startEngine({ ...opts, log });
  const stop = (signal: string) => {
    log.info('shutting down', { signal });
    void engine.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((e: unknown) => {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'error', msg: e instanceof Error ? e.message : String(e), component: 'gantryd' })}\n`);
  process.exit(1);
});
