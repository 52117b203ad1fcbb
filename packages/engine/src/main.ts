#!/usr/bin/env node
/**
 * gantryd [-H unix:///run/gantry/gantry.sock]... [-G docker] [--tlsverify --tlscacert … --tlscert … --tlskey …]
 *         [--data-root /var/lib/gantry] [--exec-root /run/gantry] [--containerd <socket>] [--log-level info]
 *
 * The Docker Engine API on unix sockets and TCP (see src/flags.ts). Without --containerd it runs
 * its own gantry-containerd, so this one command brings the whole stack up. JSON logs on stderr.
 */
import { commandLineOrExit, Logger, traceProcess } from '@gantry/linux';
import { startEngine } from './daemon';
import { COMMAND, daemonFlags } from './flags';

async function main(): Promise<void> {
  traceProcess('gantryd');
  const opts = commandLineOrExit(COMMAND, process.argv.slice(2), daemonFlags);
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
  process.stderr.write(
    `${JSON.stringify({ time: new Date().toISOString(), level: 'error', msg: e instanceof Error ? e.message : String(e), component: 'gantryd' })}\n`,
  );
  process.exit(1);
});
