#!/usr/bin/env node
/**
 * gantry-containerd [--address <socket>] [--root <dir>] [--state <dir>] [--log-level info]
 *
 * The lifecycle daemon: containerd's v1 gRPC API on a unix socket, containers in a crash-safe
 * store under --root, tasks in one gantry-shim each under --state. JSON logs on stderr.
 */
import { Logger, type Level } from './log';
import { startDaemon, DEFAULTS } from './server';

interface Flags {
  address: string;
  root: string;
  state: string;
  logLevel: Level;
}

function parse(argv: string[]): Flags {
  const flags: Flags = { ...DEFAULTS, logLevel: 'info' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [name, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${name} needs a value`);
      return v;
    };
    switch (name) {
      case '--address':
      case '-a':
        flags.address = value();
        break;
      case '--root':
        flags.root = value();
        break;
      case '--state':
        flags.state = value();
        break;
      case '--log-level':
      case '-l': {
        const v = value();
        if (!['debug', 'info', 'warn', 'error'].includes(v)) throw new Error(`invalid --log-level ${v}`);
        flags.logLevel = v as Level;
        break;
      }
      case '--help':
      case '-h':
        process.stdout.write('usage: gantry-containerd [--address socket] [--root dir] [--state dir] [--log-level debug|info|warn|error]\n');
        process.exit(0);
        break;
      default:
        throw new Error(`unknown flag ${arg}`);
    }
  }
  return flags;
}

async function main(): Promise<void> {
  let flags: Flags;
  try {
    flags = parse(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`gantry-containerd: ${(e as Error).message}\n`);
    process.exit(2);
  }
  const log = new Logger(flags.logLevel, { component: 'gantry-containerd' });
  const daemon = await startDaemon({ ...flags, log });
  const stop = (signal: string) => {
    log.info('stopping', { signal });
    void daemon.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((e: unknown) => {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'error', msg: e instanceof Error ? e.message : String(e), component: 'gantry-containerd' })}\n`);
  process.exit(1);
});
