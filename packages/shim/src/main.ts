#!/usr/bin/env node
/**
 * gantry-shim serve --socket <path> --namespace <ns> --id <container> --state-dir <dir>
 *                   --runtime-root <dir> [--publish-address <daemon socket>]
 *
 * gantry-shim serve --warm --pool <daemon state dir>/
 *
 * One per container, started detached by gantry-containerd: a child subreaper that serves the
 * containerd.task.v2 Task API (over gRPC) on its own socket, owns the container's stdio and keeps
 * its exit status, whether or not the daemon is running.
 *
 * --warm: a spare the daemon starts ahead of need, because loading Node, gRPC and the runtime is
 * most of a shim's start-up. It waits for one JSON line on stdin (the serve options plus `logFile`)
 * and then serves that task; end of input before a line means the daemon no longer needs it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { commandLineOrExit, FlagError, linuxSys, PR, traceProcess, type CommandLine, type CommandSpec, type FlagDefs } from '@gantry/linux';
import { shim, tracedService } from '@gantry/api';
import { WarmInitStage } from '@gantry/runtime';
import { taskServer } from './grpc-service';
import { IdleCollector, pokingService } from './idle-gc';
import { Publisher } from './publisher';
import { StrayReaper } from './reaper';
import { TaskService } from './task-service';

export interface ServeOptions {
  socket: string;
  namespace: string;
  id: string;
  stateDir: string;
  runtimeRoot: string;
  publishAddress?: string;
}

function log(level: string, msg: string, fields: Record<string, unknown> = {}): void {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, component: 'gantry-shim', pid: process.pid, ...fields })}\n`);
}

const COMMAND = {
  program: 'gantry-shim',
  synopsis: 'serve --socket S --namespace NS --id ID --state-dir D --runtime-root R [--publish-address A] | serve --warm --pool P',
  positionals: true,
  flags: {
    socket: { type: 'string', arg: 'PATH', help: 'where the task API is served' },
    namespace: { type: 'string', arg: 'NS', help: "the container's containerd namespace" },
    id: { type: 'string', arg: 'ID', help: 'the container' },
    'state-dir': { type: 'string', arg: 'DIR', help: 'the bundle and the shim state' },
    'runtime-root': { type: 'string', arg: 'DIR', help: "gantry-runtime's state root" },
    'publish-address': { type: 'string', arg: 'SOCKET', help: "gantry-containerd's socket, for task events" },
    warm: { type: 'boolean', help: 'start ahead of need; read the task to serve as one JSON line on stdin' },
    pool: { type: 'string', arg: 'DIR', help: "the daemon's state dir (names the warm pool in ps)" },
  },
} as const satisfies CommandSpec<FlagDefs>;

type ShimCommand = { warm: true; pool?: string } | { warm: false; options: ServeOptions };

function serveCommand({ flags: f, positionals }: CommandLine<typeof COMMAND.flags>): ShimCommand {
  if (positionals.length !== 1 || positionals[0] !== 'serve') throw new FlagError(`usage: gantry-shim ${COMMAND.synopsis}`);
  if (f.warm) return f.pool ? { warm: true, pool: f.pool } : { warm: true };
  const need = (name: 'socket' | 'namespace' | 'id' | 'state-dir' | 'runtime-root') => {
    const v = f[name];
    if (!v) throw new FlagError(`--${name} is required`);
    return v;
  };
  const options: ServeOptions = {
    socket: need('socket'),
    namespace: need('namespace'),
    id: need('id'),
    stateDir: need('state-dir'),
    runtimeRoot: need('runtime-root'),
  };
  if (f['publish-address'] !== undefined) options.publishAddress = f['publish-address'];
  return { warm: false, options };
}

/** What a warm shim reads on stdin: the options of a cold start, and where to log. */
export interface WarmAssignment extends ServeOptions {
  logFile: string;
}

/** Block until the daemon assigns a task (one line on fd 0); undefined at end of input. */
function readAssignment(): WarmAssignment | undefined {
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  const buf = Buffer.alloc(64 * 1024);
  let text = '';
  for (;;) {
    let n: number;
    try {
      n = fs.readSync(0, buf, 0, buf.length, null);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN' || code === 'EINTR') {
        Atomics.wait(sleeper, 0, 0, 5);
        continue;
      }
      throw e;
    }
    if (n === 0) return undefined;
    text += buf.toString('utf8', 0, n);
    const nl = text.indexOf('\n');
    if (nl >= 0) {
      const a = JSON.parse(text.slice(0, nl)) as Partial<WarmAssignment>;
      for (const k of ['socket', 'namespace', 'id', 'stateDir', 'runtimeRoot', 'logFile'] as const) {
        if (typeof a[k] !== 'string' || a[k] === '') throw new Error(`warm assignment lacks ${k}`);
      }
      return a as WarmAssignment;
    }
  }
}

/**
 * After an exec, the next exec's stage is started and kept this long (ms) for it: GANTRY_WARM_EXEC_MS,
 * default 10 s; 0 turns warm stages off (every exec starts its stage then).
 */
function warmExecIdleMs(): number {
  const v = process.env.GANTRY_WARM_EXEC_MS;
  const n = v === undefined || v === '' ? 10_000 : Number(v);
  return Number.isFinite(n) && n >= 0 ? n : 10_000;
}

/**
 * A spare starts its task's init stage too, before the task is known (see @gantry/runtime's
 * WarmInitStage): Node's start-up of the stage was the longest step of Tasks.Create.
 * GANTRY_WARM_INIT=0 turns it off (every create starts its stage then).
 */
function warmInitStage(pool: string | undefined): WarmInitStage | undefined {
  if (pool === undefined || process.env.GANTRY_WARM_INIT === '0') return undefined;
  // the sealed node's bottom overlay layer: a directory of the daemon's, never looked into
  return WarmInitStage.start({ bottomDir: path.join(pool, 'runtime') });
}

/** Become the shim of the assigned task: its log on stdout/stderr, its bundle as cwd, no stdin. */
function adopt(a: WarmAssignment): void {
  const sys = linuxSys();
  const nul = fs.openSync('/dev/null', 'r');
  sys.dup2(nul, 0);
  fs.closeSync(nul);
  const logFd = fs.openSync(a.logFile, 'a', 0o600);
  sys.dup2(logFd, 1);
  sys.dup2(logFd, 2);
  fs.closeSync(logFd);
  process.chdir(a.stateDir);
}

/** Quiet time (ms) after the last call before an idle shim collects its garbage. */
const IDLE_GC_MS = 2000;

async function serve(o: ServeOptions, warmInit?: WarmInitStage): Promise<void> {
  const sys = linuxSys();
  // Orphans of the container come to us, not to the host's init.
  sys.prctl(PR.SET_CHILD_SUBREAPER, 1);
  fs.mkdirSync(o.stateDir, { recursive: true });
  const publisher = new Publisher(o.publishAddress, o.namespace, (m) => log('warn', m));
  const svc = new TaskService({
    runtimeRoot: o.runtimeRoot,
    stateDir: o.stateDir,
    consoleDir: path.dirname(o.socket),
    publish: (e) => publisher.publish(e),
    warmExecIdleMs: warmExecIdleMs(),
    warmInit,
  });
  const reaper = new StrayReaper(sys, 1000, (pid) => svc.runtime.awaits(pid));
  reaper.start();
  const server = new Server();
  let taskPid = 0;
  const shutdown = () => {
    log('info', 'shutting down', { id: o.id });
    server.tryShutdown(() => {
      void publisher.drain().then(() => {
        publisher.close();
        fs.rmSync(o.socket, { force: true });
        process.exit(0);
      });
    });
  };
  // gantry-containerd starts shims with --expose-gc (see IdleCollector)
  const idle = new IdleCollector((globalThis as { gc?: () => void }).gc, () => sys.mallocTrim(), IDLE_GC_MS);
  idle.poke();
  server.addService(
    shim.TaskService,
    // each call a span `shim.<method>` under GANTRY_TRACE
    tracedService(
      'shim',
      shim.TaskService,
      pokingService(
        idle,
        taskServer(svc, {
          shutdown,
          taskPid: () => {
            try {
              taskPid = svc.state('').pid;
            } catch {
              // no task
            }
            return taskPid;
          },
        }),
      ),
    ),
  );
  fs.rmSync(o.socket, { force: true });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${o.socket}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  fs.chmodSync(o.socket, 0o600);
  log('info', 'serving', { id: o.id, namespace: o.namespace, socket: o.socket });
  // The daemon restarting must not take us down.
  process.on('SIGHUP', () => undefined);
  process.on('SIGPIPE', () => undefined);
}

if (require.main === module) {
  traceProcess('gantry-shim');
  const command = commandLineOrExit(COMMAND, process.argv.slice(2), serveCommand);
  let opts: ServeOptions;
  let warmInit: WarmInitStage | undefined;
  if (command.warm) {
    warmInit = warmInitStage(command.pool);
    const a = readAssignment();
    if (!a) process.exit(0);
    adopt(a);
    opts = a;
  } else opts = command.options;
  serve(opts, warmInit).catch((e: unknown) => {
    log('error', e instanceof Error ? e.message : String(e));
    process.exit(1);
  });
}
