#!/usr/bin/env node
/**
 * gantry-containerd [--address <socket>] [--root <dir>] [--state <dir>] [--config <toml>] [--log-level info]
 *
 * The lifecycle daemon: containerd's v1 gRPC API on a unix socket, containers in a crash-safe
 * store under --root, tasks in one gantry-shim each under --state, Kubernetes' CRI on the same
 * socket (settings from --config). JSON logs on stderr.
 */
import { commandLineOrExit, FlagError, traceProcess, type CommandLine, type CommandSpec, type FlagDefs } from '@gantry/linux';
import { Logger, type Level } from '@gantry/linux';
import { startDaemon, DEFAULTS } from './server';
import { loadCriConfig } from './cri/config';

const LEVELS: readonly string[] = ['debug', 'info', 'warn', 'error'] satisfies Level[];

const COMMAND = {
  program: 'gantry-containerd',
  flags: {
    address: { type: 'string', short: 'a', arg: 'SOCKET', help: `the API's unix socket (default ${DEFAULTS.address})` },
    root: { type: 'string', arg: 'DIR', help: `persistent state: content, snapshots, metadata (default ${DEFAULTS.root})` },
    state: { type: 'string', arg: 'DIR', help: `runtime state: shim sockets, bundles (default ${DEFAULTS.state})` },
    config: {
      type: 'string',
      short: 'c',
      arg: 'FILE',
      help: 'TOML configuration file (the [cri] table: sandbox image, CNI dirs, registry mirrors, streaming address)',
    },
    'log-level': { type: 'string', short: 'l', arg: 'LEVEL', help: 'debug, info, warn, error (default info)' },
  },
} as const satisfies CommandSpec<FlagDefs>;

interface Flags {
  address: string;
  root: string;
  state: string;
  logLevel: Level;
  config?: string;
}

function flagsOf({ flags: f }: CommandLine<typeof COMMAND.flags>): Flags {
  const level = f['log-level'] ?? 'info';
  if (!LEVELS.includes(level)) throw new FlagError(`invalid --log-level ${level}`);
  return {
    address: f.address ?? DEFAULTS.address,
    root: f.root ?? DEFAULTS.root,
    state: f.state ?? DEFAULTS.state,
    logLevel: level as Level,
    ...(f.config !== undefined && { config: f.config }),
  };
}

async function main(): Promise<void> {
  traceProcess('gantry-containerd');
  const flags = commandLineOrExit(COMMAND, process.argv.slice(2), flagsOf);
  const log = new Logger(flags.logLevel, { component: 'gantry-containerd' });
  const daemon = await startDaemon({ ...flags, log, cri: loadCriConfig(flags.config) });
  const stop = (signal: string) => {
    log.info('stopping', { signal });
    void daemon.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((e: unknown) => {
  process.stderr.write(
    `${JSON.stringify({ time: new Date().toISOString(), level: 'error', msg: e instanceof Error ? e.message : String(e), component: 'gantry-containerd' })}\n`,
  );
  process.exit(1);
});
