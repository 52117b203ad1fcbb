#!/usr/bin/env node
/**
 * gantry-runtime: a runc-compatible command line. Global flags come before the command, command
 * flags after it, as runc (urfave/cli) takes them; errors are one line on stderr (and the --log
 * file) with exit status 1.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseSignal } from '@gantry/linux';
import { bool, int, multi, parseArgs, parseDuration, str, UsageError, type FlagSpec, type Parsed } from './args';
import { CliLog, type LogFormat } from './log';
import { EXEC_FLAGS, execProcessFrom } from './process-flags';
import { UPDATE_FLAGS, resourcesFrom } from './update-flags';
import type { Runtime } from '../runtime';
import { RuntimeError } from '../errors';
import { trace } from '../trace';

const VERSION = '0.1.0';
const SPEC_VERSION = '1.0.2-dev';

const GLOBAL_FLAGS: FlagSpec[] = [
  { name: 'root', type: 'string' },
  { name: 'log', type: 'string' },
  { name: 'log-format', type: 'string' },
  { name: 'debug', type: 'bool' },
  { name: 'systemd-cgroup', type: 'bool' },
  { name: 'rootless', type: 'string' },
  { name: 'criu', type: 'string' },
  { name: 'version', alias: 'v', type: 'bool' },
  { name: 'help', alias: 'h', type: 'bool' },
];

const CREATE_FLAGS: FlagSpec[] = [
  { name: 'bundle', alias: 'b', type: 'string' },
  { name: 'console-socket', type: 'string' },
  { name: 'pid-file', type: 'string' },
  { name: 'no-pivot', type: 'bool' },
  { name: 'no-new-keyring', type: 'bool' },
  { name: 'preserve-fds', type: 'string' },
];

const USAGE = `usage: gantry-runtime [global options] command [command options] [arguments...]

commands:
  spec      create a new specification file (config.json)
  create    create a container
  start     start the user process of a created container
  run       create and start a container
  state     output the state of a container
  list      list containers started with the given root
  kill      send a signal to the container's init process
  delete    delete a container and the resources it holds
  exec      execute a new process inside a container
  ps        list processes running inside a container
  pause     suspend all processes of a container
  resume    resume all processes of a paused container
  events    display container events such as OOM notifications and resource stats
  update    update container resource limits
  features  show the enabled features

global options: --root <dir> --log <file> --log-format text|json --debug --systemd-cgroup
`;

interface Env {
  log: CliLog;
  runtime: () => Runtime;
  root: string;
}

function oneId(p: Parsed, cmd: string): string {
  if (p.positional.length < 1) throw new UsageError(`"${cmd}" requires a container id`);
  return p.positional[0]!;
}

function print(obj: unknown): void {
  process.stdout.write(`${JSON.stringify(obj, null, 2)}\n`);
}

/** Forward signals to `pid` while it runs in the foreground, as runc does. */
function forwardSignals(pid: number): () => void {
  const names: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];
  const handlers = names.map((name) => {
    const h = () => {
      try {
        process.kill(pid, name);
      } catch {
        // gone
      }
    };
    process.on(name, h);
    return [name, h] as const;
  });
  return () => handlers.forEach(([n, h]) => process.off(n, h));
}

async function cmdCreateOrRun(env: Env, argv: string[], run: boolean): Promise<number> {
  const flags = run ? [...CREATE_FLAGS, { name: 'detach', alias: 'd', type: 'bool' as const }, { name: 'keep', type: 'bool' as const }] : CREATE_FLAGS;
  const p = parseArgs(argv, flags);
  const id = oneId(p, run ? 'run' : 'create');
  const { waitExit } = await import('../container/wait');
  const bundle = str(p, 'bundle') ?? process.cwd();
  // `run` in the foreground with a terminal and no console socket: we are the terminal's other end.
  let proxy: import('./tty-proxy').TtyProxy | undefined;
  if (run && !bool(p, 'detach') && !str(p, 'console-socket') && wantsTerminal(bundle)) {
    const { TtyProxy } = await import('./tty-proxy');
    proxy = new TtyProxy();
  }
  try {
    return await createOrRun(env, p, id, bundle, run, proxy, waitExit);
  } finally {
    proxy?.close();
  }
}

function wantsTerminal(bundle: string): boolean {
  try {
    return (JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8')) as { process?: { terminal?: boolean } }).process?.terminal === true;
  } catch {
    return false;
  }
}

async function createOrRun(
  env: Env,
  p: Parsed,
  id: string,
  bundle: string,
  run: boolean,
  proxy: import('./tty-proxy').TtyProxy | undefined,
  waitExit: typeof import('../container/wait').waitExit,
): Promise<number> {
  const rt = env.runtime();
  const created = await rt.create(id, {
    bundle,
    consoleSocket: proxy?.socketPath ?? str(p, 'console-socket'),
    pidFile: str(p, 'pid-file'),
    noPivot: bool(p, 'no-pivot'),
    preserveFds: int(p, 'preserve-fds', 0),
  });
  trace('created');
  if (!run) return 0;
  const stop = forwardSignals(created.state.pid);
  created.init.ref();
  const exited = waitExit(created.init);
  try {
    await rt.start(id);
  } catch (e) {
    stop();
    await rt.delete(id, true).catch(() => undefined);
    throw e;
  }
  trace('started');
  if (bool(p, 'detach')) {
    stop();
    created.init.unref();
    return 0;
  }
  const attached = proxy?.attach();
  const code = await exited;
  await attached;
  trace('exited');
  stop();
  if (!bool(p, 'keep')) await rt.delete(id, true);
  trace('deleted');
  return code;
}

async function cmdExec(env: Env, argv: string[]): Promise<number> {
  const p = parseArgs(argv, EXEC_FLAGS, true);
  const id = oneId(p, 'exec');
  const rt = env.runtime();
  const base = rt.ctx.store.load(id).spec.process;
  const proc = execProcessFrom(p, base, p.positional.slice(1));
  let proxy: import('./tty-proxy').TtyProxy | undefined;
  if (proc.terminal && !bool(p, 'detach') && !str(p, 'console-socket')) {
    const { TtyProxy } = await import('./tty-proxy');
    proxy = new TtyProxy();
  }
  try {
    return await execWith(rt, id, p, proc, proxy);
  } finally {
    proxy?.close();
  }
}

async function execWith(
  rt: Runtime,
  id: string,
  p: Parsed,
  proc: import('../spec/types').Process,
  proxy: import('./tty-proxy').TtyProxy | undefined,
): Promise<number> {
  // Without -d we become a child subreaper: the program comes to us when its exec stage exits,
  // and we reap it and pass its status on. With -d it goes to the subreaper above us (a shim).
  const detach = bool(p, 'detach');
  const executed = await rt.exec(id, {
    process: proc,
    consoleSocket: proxy?.socketPath ?? str(p, 'console-socket'),
    pidFile: str(p, 'pid-file'),
    preserveFds: int(p, 'preserve-fds', 0),
    detach,
  });
  if (!executed.exited) return 0;
  const stop = forwardSignals(executed.pid);
  const attached = proxy?.attach();
  const code = await executed.exited;
  await attached;
  stop();
  return code;
}

function cmdList(env: Env, argv: string[]): number {
  const p = parseArgs(argv, [
    { name: 'quiet', alias: 'q', type: 'bool' },
    { name: 'format', alias: 'f', type: 'string' },
  ]);
  const states = env.runtime().list();
  if (bool(p, 'quiet')) {
    for (const s of states) process.stdout.write(`${s.id}\n`);
    return 0;
  }
  const format = str(p, 'format') ?? 'table';
  if (format === 'json') {
    process.stdout.write(`${JSON.stringify(states)}\n`);
    return 0;
  }
  if (format !== 'table') throw new UsageError(`invalid format option ${format}`);
  const rows = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'], ...states.map((s) => [s.id, String(s.pid), s.status, s.bundle, s.created, s.owner || 'root'])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) process.stdout.write(`${r.map((c, i) => c.padEnd(widths[i]! + 2)).join('').trimEnd()}\n`);
  return 0;
}

async function cmdPs(env: Env, argv: string[]): Promise<number> {
  const p = parseArgs(argv, [{ name: 'format', alias: 'f', type: 'string' }], true);
  const id = oneId(p, 'ps');
  const pids = env.runtime().pids(id);
  const format = str(p, 'format') ?? 'table';
  if (format === 'json') {
    process.stdout.write(`${JSON.stringify(pids)}\n`);
    return 0;
  }
  if (format !== 'table') throw new UsageError(`invalid format option ${format}`);
  const { execFileSync } = await import('node:child_process');
  const psArgs = p.positional.length > 1 ? p.positional.slice(1) : ['-ef'];
  const out = execFileSync('ps', psArgs, { encoding: 'utf8' }).split('\n');
  const header = out[0] ?? '';
  const pidCol = header.trim().split(/\s+/).indexOf('PID');
  if (pidCol < 0) throw new RuntimeError('ps output has no PID column');
  const set = new Set(pids);
  process.stdout.write(`${header}\n`);
  for (const line of out.slice(1)) {
    const pid = Number(line.trim().split(/\s+/)[pidCol]);
    if (set.has(pid)) process.stdout.write(`${line}\n`);
  }
  return 0;
}

async function cmdEvents(env: Env, argv: string[]): Promise<number> {
  const p = parseArgs(argv, [
    { name: 'stats', type: 'bool' },
    { name: 'interval', type: 'string' },
  ]);
  const id = oneId(p, 'events');
  const rt = env.runtime();
  const emit = (type: string, data?: unknown) => process.stdout.write(`${JSON.stringify(data === undefined ? { type, id } : { type, id, data })}\n`);
  if (bool(p, 'stats')) {
    emit('stats', rt.stats(id));
    return 0;
  }
  const interval = parseDuration(str(p, 'interval') ?? '5s');
  let ooms = rt.oomKills(id);
  let last = 0;
  for (;;) {
    const status = rt.state(id).status;
    if (status === 'stopped') return 0;
    const now = rt.oomKills(id);
    if (now > ooms) emit('oom');
    ooms = now;
    if (Date.now() - last >= interval) {
      emit('stats', rt.stats(id));
      last = Date.now();
    }
    await new Promise((r) => setTimeout(r, Math.min(interval, 200)));
  }
}

async function cmdSpec(argv: string[]): Promise<number> {
  const p = parseArgs(argv, [
    { name: 'bundle', alias: 'b', type: 'string' },
    { name: 'rootless', type: 'bool' },
  ]);
  const { defaultSpec } = await import('../spec/default-spec');
  const file = path.join(str(p, 'bundle') ?? process.cwd(), 'config.json');
  if (fs.existsSync(file)) throw new RuntimeError('File config.json exists. Remove it first.');
  fs.writeFileSync(file, `${JSON.stringify(defaultSpec(), null, '\t')}\n`);
  return 0;
}

async function cmdFeatures(): Promise<number> {
  const { features } = await import('./features');
  print(features());
  return 0;
}

async function dispatch(env: Env, cmd: string, argv: string[]): Promise<number> {
  switch (cmd) {
    case 'create':
      return cmdCreateOrRun(env, argv, false);
    case 'run':
      return cmdCreateOrRun(env, argv, true);
    case 'start': {
      await env.runtime().start(oneId(parseArgs(argv, []), 'start'));
      return 0;
    }
    case 'state':
      print(env.runtime().state(oneId(parseArgs(argv, []), 'state')));
      return 0;
    case 'list':
    case 'ls':
      return cmdList(env, argv);
    case 'kill': {
      const p = parseArgs(argv, [{ name: 'all', alias: 'a', type: 'bool' }]);
      const id = oneId(p, 'kill');
      const sigText = p.positional[1] ?? 'SIGTERM';
      const sig = parseSignal(sigText);
      if (sig === undefined) throw new UsageError(`unknown signal "${sigText}"`);
      env.runtime().kill(id, sig, bool(p, 'all'));
      return 0;
    }
    case 'delete': {
      const p = parseArgs(argv, [{ name: 'force', alias: 'f', type: 'bool' }]);
      const id = oneId(p, 'delete');
      const rt = env.runtime();
      // runc: deleting a container that does not exist is an error, except with --force
      if (!rt.ctx.store.exists(id)) {
        if (bool(p, 'force')) return 0;
      }
      await rt.delete(id, bool(p, 'force'));
      return 0;
    }
    case 'exec':
      return cmdExec(env, argv);
    case 'ps':
      return cmdPs(env, argv);
    case 'pause':
      env.runtime().pause(oneId(parseArgs(argv, []), 'pause'));
      return 0;
    case 'resume':
      env.runtime().resume(oneId(parseArgs(argv, []), 'resume'));
      return 0;
    case 'events':
      return cmdEvents(env, argv);
    case 'update': {
      const p = parseArgs(argv, UPDATE_FLAGS);
      env.runtime().update(oneId(p, 'update'), resourcesFrom(p));
      return 0;
    }
    case 'spec':
      return cmdSpec(argv);
    case 'features':
      return cmdFeatures();
    case 'help':
      process.stdout.write(USAGE);
      return 0;
    default:
      throw new UsageError(`no such command: ${cmd}`);
  }
}

export async function main(argv: string[]): Promise<number> {
  trace('cli loaded');
  let log = new CliLog(undefined, 'text', false);
  try {
    let i = 0;
    while (i < argv.length && argv[i]!.startsWith('-')) {
      const spec = GLOBAL_FLAGS.find((f) => argv[i] === `--${f.name}` || argv[i] === `-${f.name}` || argv[i]!.startsWith(`--${f.name}=`) || (f.alias && argv[i] === `-${f.alias}`));
      i += spec && spec.type !== 'bool' && !argv[i]!.includes('=') ? 2 : 1;
    }
    const globals = parseArgs(argv.slice(0, i), GLOBAL_FLAGS);
    const format = (str(globals, 'log-format') ?? 'text') as LogFormat;
    if (format !== 'text' && format !== 'json') throw new UsageError(`invalid log-format: ${format}`);
    log = new CliLog(str(globals, 'log'), format, bool(globals, 'debug'));
    if (bool(globals, 'version')) {
      process.stdout.write(`gantry-runtime version ${VERSION}\nspec: ${SPEC_VERSION}\n`);
      return 0;
    }
    const cmd = argv[i];
    if (!cmd || bool(globals, 'help')) {
      process.stdout.write(USAGE);
      return cmd || bool(globals, 'help') ? 0 : 1;
    }
    const root = str(globals, 'root') ?? '/run/gantry-runtime';
    let rt: Runtime | undefined;
    const env: Env = {
      log,
      root,
      runtime: () => {
        if (!rt) {
          // eslint-disable-next-line @typescript-eslint/no-var-requires
          const { Runtime: R } = require('../runtime') as typeof import('../runtime');
          rt = new R({ root, systemdCgroup: bool(globals, 'systemd-cgroup') });
        }
        return rt;
      },
    };
    log.debug(`command ${cmd} ${JSON.stringify(argv.slice(i + 1))}`);
    void multi;
    return await dispatch(env, cmd, argv.slice(i + 1));
  } catch (e) {
    log.error(e instanceof Error ? e.message : String(e));
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      // Exit now: waiting for Node to wind down handles costs milliseconds on every container start.
      process.exit(code);
    },
    (e: unknown) => {
      process.stderr.write(`gantry-runtime: ${String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
