#!/usr/bin/env node
/**
 * gantry-runtime: a runc-compatible command line. Global flags come before the command, command
 * flags after it, as runc (urfave/cli) takes them; errors are one line on stderr (and the --log
 * file) with exit status 1.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseSignal, traceProcess } from '@gantry/linux';
import { bool, int, multi, parseArgs, parseDuration, str, UsageError, type FlagSpec, type Parsed } from './args';
import { CliLog } from './log';
import { EXEC_FLAGS, execProcessFrom } from './process-flags';
import { UPDATE_FLAGS, resourcesFrom } from './update-flags';
import type { Runtime } from '../runtime';
import { RuntimeError, StateError } from '../errors';
import { trace } from '../trace';
import { DEFAULT_ROOT } from '../state/store';
import { parseSubCgroupArgs } from '../cgroups/sub-cgroup';
import { appHelp, commandHelp, PROGRAM, type CommandHelp } from './help';

const VERSION = '0.1.0';
const SPEC_VERSION = '1.0.2-dev';
/** The runc release whose command line (and integration suite) this CLI follows. */
const RUNC_CLI_VERSION = '1.1.5';

const GLOBAL_FLAGS: FlagSpec[] = [
  { name: 'debug', type: 'bool', usage: 'enable debug logging' },
  { name: 'log', type: 'string', usage: 'where to write logs (default: stderr)' },
  { name: 'log-format', type: 'string', usage: 'log format: text or json (default: "text")' },
  { name: 'root', type: 'string', usage: `directory for the containers' state (default: "${DEFAULT_ROOT}")` },
  { name: 'criu', type: 'string', usage: 'path to criu (checkpoint/restore is not supported)' },
  { name: 'systemd-cgroup', type: 'bool', usage: 'cgroupsPath is "slice:prefix:name" (systemd style)' },
  { name: 'rootless', type: 'string', usage: 'ignore cgroup permission errors: true, false or auto (default: "auto")' },
  { name: 'help', alias: 'h', type: 'bool', usage: 'show help' },
  { name: 'version', alias: 'v', type: 'bool', usage: 'print the version' },
];

const BUNDLE_FLAG: FlagSpec = { name: 'bundle', alias: 'b', type: 'string', usage: 'path to the bundle directory (default: the current directory)' };
const CONSOLE_SOCKET_FLAG: FlagSpec = {
  name: 'console-socket',
  type: 'string',
  usage: "path to an AF_UNIX socket that receives the master end of the container's pseudoterminal",
};
const PID_FILE_FLAG: FlagSpec = { name: 'pid-file', type: 'string', usage: 'write the process id to this file' };
const NO_PIVOT_FLAG: FlagSpec = { name: 'no-pivot', type: 'bool', usage: 'use MS_MOVE and chroot instead of pivot_root (for a rootfs on a ramdisk)' };

const CREATE_FLAGS: FlagSpec[] = [
  BUNDLE_FLAG,
  CONSOLE_SOCKET_FLAG,
  PID_FILE_FLAG,
  NO_PIVOT_FLAG,
  { name: 'no-new-keyring', type: 'bool', usage: 'do not create a new session keyring for the container' },
  { name: 'preserve-fds', type: 'string', usage: 'pass N more file descriptors (3 .. 3+N-1) to the container (default: 0)' },
];

const RUN_FLAGS: FlagSpec[] = [
  ...CREATE_FLAGS,
  { name: 'detach', alias: 'd', type: 'bool', usage: "detach from the container's process" },
  { name: 'keep', type: 'bool', usage: 'do not delete the container after it exits' },
  { name: 'no-subreaper', type: 'bool', usage: 'accepted for compatibility (the runtime is never a subreaper)' },
];

const CRIU_FLAGS: FlagSpec[] = [
  { name: 'image-path', type: 'string', usage: 'path of the criu image files' },
  { name: 'work-path', type: 'string', usage: 'path for criu work files and logs' },
  { name: 'parent-path', type: 'string', usage: 'path of the previous images (pre-dump)' },
  { name: 'leave-running', type: 'bool', usage: 'leave the container running after the checkpoint' },
  { name: 'tcp-established', type: 'bool', usage: 'allow open TCP connections' },
  { name: 'ext-unix-sk', type: 'bool', usage: 'allow external unix sockets' },
  { name: 'shell-job', type: 'bool', usage: 'allow shell jobs' },
  { name: 'lazy-pages', type: 'bool', usage: 'restore memory pages lazily (userfaultfd)' },
  { name: 'status-fd', type: 'string', usage: 'criu writes \\0 to this fd once lazy pages are ready' },
  { name: 'page-server', type: 'string', usage: 'ADDRESS:PORT of the page server' },
  { name: 'file-locks', type: 'bool', usage: 'handle file locks' },
  { name: 'pre-dump', type: 'bool', usage: 'dump memory only and leave the container running' },
  { name: 'manage-cgroups-mode', type: 'string', usage: "cgroups mode: 'soft', 'full' or 'strict'" },
  { name: 'empty-ns', type: 'multi', usage: 'create a namespace but do not restore its properties' },
  { name: 'auto-dedup', type: 'bool', usage: 'deduplicate memory images' },
];
const RESTORE_FLAGS: FlagSpec[] = [
  ...CRIU_FLAGS.filter((f) => !['parent-path', 'leave-running', 'status-fd', 'page-server', 'pre-dump'].includes(f.name)),
  BUNDLE_FLAG,
  CONSOLE_SOCKET_FLAG,
  { name: 'detach', alias: 'd', type: 'bool', usage: "detach from the container's process" },
  PID_FILE_FLAG,
  { name: 'no-subreaper', type: 'bool', usage: 'accepted for compatibility' },
  NO_PIVOT_FLAG,
  { name: 'lsm-profile', type: 'string', usage: 'LSM profile for the restored process (TYPE:NAME)' },
  { name: 'lsm-mount-context', type: 'string', usage: 'LSM mount context for the restore' },
];

interface Env {
  log: CliLog;
  runtime: () => Runtime;
  root: string;
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

async function cmdCreateOrRun(env: Env, p: Parsed, run: boolean): Promise<number> {
  const id = p.positional[0]!;
  const bundle = str(p, 'bundle') ?? process.cwd();
  // `run` in the foreground with a terminal and no console socket: we are the terminal's other end.
  let proxy: import('./tty-proxy').TtyProxy | undefined;
  if (run && !bool(p, 'detach') && !str(p, 'console-socket') && wantsTerminal(bundle)) {
    const { TtyProxy } = await import('./tty-proxy');
    proxy = new TtyProxy();
  }
  try {
    return await createOrRun(env, p, id, bundle, run, proxy);
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

async function createOrRun(env: Env, p: Parsed, id: string, bundle: string, run: boolean, proxy: import('./tty-proxy').TtyProxy | undefined): Promise<number> {
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
  const detach = bool(p, 'detach');
  created.init?.ref();
  // not with -d: waiting on an init in a user namespace (reaped by pid) would keep us alive
  const exited = detach ? undefined : created.exited();
  try {
    await rt.start(id);
  } catch (e) {
    stop();
    await rt.delete(id, true).catch(() => undefined);
    throw e;
  }
  trace('started');
  if (detach || !exited) {
    stop();
    created.init?.unref();
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

async function cmdExec(env: Env, p: Parsed): Promise<number> {
  const id = p.positional[0]!;
  const rt = env.runtime();
  // runc's words: a paused container would freeze the new process until resumed.
  const status = rt.state(id).status;
  if (status === 'stopped') throw new StateError('cannot exec in a stopped container');
  if (status === 'paused' && !bool(p, 'ignore-paused')) throw new StateError('cannot exec in a paused container');
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
    ignorePaused: bool(p, 'ignore-paused'),
    subCgroups: parseSubCgroupArgs(multi(p, 'cgroup')),
  });
  if (!executed.exited) return 0;
  const stop = forwardSignals(executed.pid);
  const attached = proxy?.attach();
  const code = await executed.exited;
  await attached;
  stop();
  return code;
}

function cmdList(env: Env, p: Parsed): number {
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
  const rows = [
    ['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'],
    ...states.map((s) => [s.id, String(s.pid), s.status, s.bundle, s.created, s.owner || 'root']),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows)
    process.stdout.write(
      `${r
        .map((c, i) => c.padEnd(widths[i]! + 2))
        .join('')
        .trimEnd()}\n`,
    );
  return 0;
}

async function cmdPs(env: Env, p: Parsed): Promise<number> {
  const id = p.positional[0]!;
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

async function cmdEvents(env: Env, p: Parsed): Promise<number> {
  const id = p.positional[0]!;
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

async function cmdSpec(p: Parsed): Promise<number> {
  const { defaultSpec } = await import('../spec/default-spec');
  const file = path.join(str(p, 'bundle') ?? process.cwd(), 'config.json');
  if (fs.existsSync(file)) throw new RuntimeError('File config.json exists. Remove it first.');
  fs.writeFileSync(file, `${JSON.stringify(defaultSpec(), null, '\t')}\n`);
  return 0;
}

function cmdKill(env: Env, p: Parsed): number {
  const id = p.positional[0]!;
  const sigText = p.positional[1] ?? 'SIGTERM';
  // 0 checks that the processes exist (kill(2)); runc accepts it too
  const sig = sigText.trim() === '0' ? 0 : parseSignal(sigText);
  if (sig === undefined) throw new UsageError(`unknown signal "${sigText}"`);
  env.runtime().kill(id, sig, bool(p, 'all'));
  return 0;
}

async function cmdDelete(env: Env, p: Parsed): Promise<number> {
  const id = p.positional[0]!;
  const rt = env.runtime();
  // runc: deleting a container that does not exist is an error, except with --force
  if (!rt.ctx.store.exists(id) && bool(p, 'force')) return 0;
  await rt.delete(id, bool(p, 'force'));
  return 0;
}

/** checkpoint/restore need CRIU, which this runtime does not drive: fail as runc does without criu. */
function noCriu(env: Env, id: string, what: 'checkpoint' | 'restore'): number {
  if (what === 'checkpoint') env.runtime().state(id); // an unknown container is reported as such first
  throw new RuntimeError(`${what} is not supported: gantry-runtime does not drive CRIU (exec: "criu": executable file not found in $PATH)`);
}

async function cmdFeatures(): Promise<number> {
  const { features } = await import('./features');
  print(features());
  return 0;
}

type Handler = (env: Env, p: Parsed) => Promise<number> | number;

interface Command extends CommandHelp {
  /** Everything after the first positional is positional (exec's command line, ps options). */
  stopAtPositional?: boolean;
  /** Exit status when the command fails (runc: 255 for exec, whose own status is the process's). */
  failureCode?: number;
  /** How many positionals the command takes (runc checks this before acting). */
  argc?: { min: number; max?: number };
  run: Handler;
}

const ONE_ID = { min: 1, max: 1 };

const COMMANDS: Command[] = [
  {
    name: 'checkpoint',
    summary: 'checkpoint a running container',
    args: '<container-id>',
    flags: CRIU_FLAGS,
    argc: ONE_ID,
    run: (env, p) => noCriu(env, p.positional[0]!, 'checkpoint'),
  },
  {
    name: 'create',
    summary: 'create a container',
    args: '<container-id>',
    flags: CREATE_FLAGS,
    argc: ONE_ID,
    description: 'Set up the container from the bundle (namespaces, mounts, cgroups) and stop just before its program; "start" runs it.',
    run: (env, p) => cmdCreateOrRun(env, p, false),
  },
  {
    name: 'delete',
    summary: 'delete a container and everything it holds (processes with --force, cgroups, state)',
    args: '<container-id>',
    flags: [{ name: 'force', alias: 'f', type: 'bool', usage: 'kill the container first if it still runs (SIGKILL)' }],
    argc: ONE_ID,
    run: (env, p) => cmdDelete(env, p),
  },
  {
    name: 'events',
    summary: 'display container events: OOM notifications and cpu, memory, IO and pids statistics',
    args: '<container-id>',
    flags: [
      { name: 'interval', type: 'string', usage: 'how often to print stats (default: 5s)' },
      { name: 'stats', type: 'bool', usage: "print the container's stats once and exit" },
    ],
    argc: ONE_ID,
    run: (env, p) => cmdEvents(env, p),
  },
  {
    name: 'exec',
    summary: 'execute a new process inside the container',
    args: '<container-id> <command> [args...]  || -p process.json <container-id>',
    flags: EXEC_FLAGS,
    stopAtPositional: true,
    argc: { min: 1 },
    failureCode: 255,
    run: (env, p) => cmdExec(env, p),
  },
  {
    name: 'kill',
    summary: "send a signal (default: SIGTERM) to the container's init process",
    args: '<container-id> [signal]',
    flags: [{ name: 'all', alias: 'a', type: 'bool', usage: 'send the signal to every process in the container' }],
    argc: { min: 1, max: 2 },
    run: (env, p) => cmdKill(env, p),
  },
  {
    name: 'list',
    summary: 'list the containers in the state directory (--root)',
    args: '',
    flags: [
      { name: 'format', alias: 'f', type: 'string', usage: 'table or json (default: "table")' },
      { name: 'quiet', alias: 'q', type: 'bool', usage: 'print container ids only' },
    ],
    argc: { min: 0, max: 0 },
    run: (env, p) => cmdList(env, p),
  },
  {
    name: 'pause',
    summary: 'suspend every process of the container (cgroup freezer)',
    args: '<container-id>',
    flags: [],
    argc: ONE_ID,
    run: (env, p) => {
      env.runtime().pause(p.positional[0]!);
      return 0;
    },
  },
  {
    name: 'ps',
    summary: 'list the processes running in the container',
    args: '<container-id> [ps options]',
    flags: [{ name: 'format', alias: 'f', type: 'string', usage: 'table or json (default: "table")' }],
    stopAtPositional: true,
    argc: { min: 1 },
    run: (env, p) => cmdPs(env, p),
  },
  {
    name: 'restore',
    summary: 'restore a container from a checkpoint',
    args: '<container-id>',
    flags: RESTORE_FLAGS,
    argc: ONE_ID,
    run: (env, p) => noCriu(env, p.positional[0]!, 'restore'),
  },
  {
    name: 'resume',
    summary: 'resume every process of a paused container',
    args: '<container-id>',
    flags: [],
    argc: ONE_ID,
    run: (env, p) => {
      env.runtime().resume(p.positional[0]!);
      return 0;
    },
  },
  {
    name: 'run',
    summary: 'create and run a container',
    args: '<container-id>',
    flags: RUN_FLAGS,
    argc: ONE_ID,
    run: (env, p) => cmdCreateOrRun(env, p, true),
  },
  {
    name: 'spec',
    summary: 'create a new specification file (config.json)',
    args: '',
    flags: [BUNDLE_FLAG, { name: 'rootless', type: 'bool', usage: 'a configuration for a rootless container' }],
    argc: { min: 0, max: 0 },
    run: (_env, p) => cmdSpec(p),
  },
  {
    name: 'start',
    summary: 'run the user process of a created container',
    args: '<container-id>',
    flags: [],
    argc: ONE_ID,
    run: async (env, p) => {
      await env.runtime().start(p.positional[0]!);
      return 0;
    },
  },
  {
    name: 'state',
    summary: 'output the state of a container',
    args: '<container-id>',
    flags: [],
    argc: ONE_ID,
    run: (env, p) => {
      print(env.runtime().state(p.positional[0]!));
      return 0;
    },
  },
  {
    name: 'update',
    summary: 'update the resource limits of a container',
    args: '<container-id>',
    flags: UPDATE_FLAGS,
    argc: ONE_ID,
    run: (env, p) => {
      env.runtime().update(p.positional[0]!, resourcesFrom(p));
      return 0;
    },
  },
  {
    name: 'features',
    summary: 'show the enabled features',
    args: '',
    flags: [],
    argc: { min: 0, max: 0 },
    run: () => cmdFeatures(),
  },
];

const ALIASES: Record<string, string> = { ls: 'list' };

function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === (ALIASES[name] ?? name));
}

const HELP_FLAG: FlagSpec = { name: 'help', alias: 'h', type: 'bool', usage: 'show help' };

function checkArgc(c: Command, p: Parsed): void {
  const n = p.positional.length;
  if (!c.argc) return;
  const { min, max } = c.argc;
  if (n >= min && (max === undefined || n <= max)) return;
  const what = max === min ? `exactly ${min}` : max === undefined ? `a minimum of ${min}` : `${min} to ${max}`;
  throw new UsageError(`"${c.name}" requires ${what} argument(s)`);
}

async function dispatch(env: Env, cmd: string, argv: string[]): Promise<number> {
  if (cmd === 'help' || cmd === 'h') {
    const topic = argv[0];
    if (topic === undefined) return printAppHelp();
    const c = findCommand(topic);
    if (!c) throw new HelpTopicError(topic);
    process.stdout.write(commandHelp(c));
    return 0;
  }
  const c = findCommand(cmd);
  if (!c) throw new HelpTopicError(cmd);
  const p = parseArgs(argv, [...c.flags, HELP_FLAG], c.stopAtPositional);
  if (bool(p, 'help')) {
    process.stdout.write(commandHelp(c));
    return 0;
  }
  checkArgc(c, p);
  try {
    return await c.run(env, p);
  } catch (e) {
    if (c.failureCode === undefined) throw e;
    env.log.error(e instanceof Error ? e.message : String(e));
    return c.failureCode;
  }
}

/** runc's answer to an unknown command (urfave/cli: "No help topic for ..."). */
class HelpTopicError extends UsageError {
  constructor(topic: string) {
    super(`No help topic for '${topic}'`);
  }
}

function versionText(): string {
  return `${VERSION} (runc version ${RUNC_CLI_VERSION} compatible)\ncommit: ${PROGRAM}-${VERSION}\nspec: ${SPEC_VERSION}`;
}

function printAppHelp(): number {
  process.stdout.write(appHelp(versionText(), COMMANDS, GLOBAL_FLAGS));
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  trace('cli loaded');
  traceProcess('gantry-runtime');
  let log = new CliLog(undefined, 'text', false);
  try {
    let i = 0;
    while (i < argv.length && argv[i]!.startsWith('-')) {
      const spec = GLOBAL_FLAGS.find(
        (f) => argv[i] === `--${f.name}` || argv[i] === `-${f.name}` || argv[i]!.startsWith(`--${f.name}=`) || (f.alias && argv[i] === `-${f.alias}`),
      );
      i += spec && spec.type !== 'bool' && !argv[i]!.includes('=') ? 2 : 1;
    }
    const globals = parseArgs(argv.slice(0, i), GLOBAL_FLAGS);
    const format: string = str(globals, 'log-format') ?? 'text';
    if (format !== 'text' && format !== 'json') throw new UsageError(`invalid log-format: ${format}`);
    log = new CliLog(str(globals, 'log'), format, bool(globals, 'debug'));
    if (bool(globals, 'version')) {
      process.stdout.write(`${PROGRAM} version ${versionText()}\n`);
      return 0;
    }
    const cmd = argv[i];
    if (!cmd || bool(globals, 'help')) {
      printAppHelp();
      return cmd || bool(globals, 'help') ? 0 : 1;
    }
    const root = str(globals, 'root') ?? DEFAULT_ROOT;
    let rt: Runtime | undefined;
    const env: Env = {
      log,
      root,
      runtime: () => {
        if (!rt) {
          // eslint-disable-next-line @typescript-eslint/no-require-imports
          const { Runtime: R } = require('../runtime') as typeof import('../runtime');
          rt = new R({
            root,
            systemdCgroup: bool(globals, 'systemd-cgroup'),
            warn: (m) => log.warn(m),
            warnQuietly: (m) => log.warnQuietly(m),
            debug: (m) => log.debug(m),
          });
        }
        return rt;
      },
    };
    log.debug(`command ${cmd} ${JSON.stringify(argv.slice(i + 1))}`);
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
