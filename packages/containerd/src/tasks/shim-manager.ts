import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { callMetadata, clientOn, events, packAny, shim, timestampFromDate, unaryCall, unixChannel, type UnaryMethod } from '@gantry/api';
import { linuxSys, traceEnv, writeFileAtomic } from '@gantry/linux';
import { Runtime } from '@gantry/runtime';
import type { DaemonContext } from '../context';
import { findShimProcesses, processGone, safeReaddir, type ShimProcess } from './shim-processes';

/** A task whose shim died: kept (as stopped) until the client deletes it, so it learns why. */
export interface DeadTask {
  namespace: string;
  id: string;
  pid: number;
  exitStatus: number;
  exitedAt: Date;
  reason: string;
}

/** Exit status reported for a task whose shim died (what containerd reports). */
const DEAD_SHIM_EXIT_STATUS = 255;

function processAlive(pid: number, mustMention: string): boolean {
  if (pid <= 0) return false;
  try {
    const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return cmd.includes(mustMention) && stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** One running shim: its client, the bundle directory it owns and its pid. */
export interface ShimHandle {
  namespace: string;
  id: string;
  bundle: string;
  socket: string;
  client: shim.TaskClient;
  shimPid: number;
}

/** Call a shim method as a promise (shim errors keep their gRPC status for the client). */
export function callShim<Req, Res>(h: ShimHandle, method: UnaryMethod<Req, Res>, req: Req, timeoutMs?: number): Promise<Res> {
  return unaryCall(h.client, method, req, callMetadata(), timeoutMs);
}

/** The client of the shim serving on `socket` (its own channel: one shim, one socket). */
function shimClient(socket: string): shim.TaskClient {
  return clientOn(shim.TaskClient, unixChannel(socket));
}

/**
 * The shim's bundle (tools/bundle-shim.mjs, made by `npm run build`): one minified file instead of
 * ~215 modules, a third less memory per shim (see the shim's README). tsc's output when there is no
 * bundle (a `tsc -b` alone).
 */
const SHIM_MAIN = shimMain();

function shimMain(): string {
  const dist = path.join(path.dirname(require.resolve('@gantry/shim/package.json')), 'dist');
  const bundled = path.join(dist, 'bundle', 'main.js');
  return fs.existsSync(bundled) ? bundled : path.join(dist, 'main.js');
}

/**
 * Node flags of a shim, which is idle nearly all its life: memory counts more than peak speed.
 * Semi-spaces of 1 MB (the young generation otherwise grows during a create and stays resident);
 * --v8-pool-size=0, 4 threads instead of 7; --lite-mode, which in Node 20's V8 implies --jitless:
 * bytecode only, no compiled code (a shim's work is syscalls and stream pipes, not hot JavaScript;
 * koffi needs no JIT); --no-expose-wasm, which jitless turns off anyway, said so the shim's log
 * does not get V8's warning about it; --expose-gc for the shim's IdleCollector. Each measured in
 * packages/shim/README.md.
 */
export const DEFAULT_SHIM_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1', '--v8-pool-size=0', '--lite-mode', '--no-expose-wasm', '--expose-gc'];
const SHIM_NODE_FLAGS = shimNodeFlags(DEFAULT_SHIM_NODE_FLAGS);

/** GANTRY_SHIM_NODE_FLAGS (space-separated) replaces the defaults: to measure them one by one. */
function shimNodeFlags(defaults: readonly string[]): string[] {
  const v = process.env.GANTRY_SHIM_NODE_FLAGS;
  return v === undefined ? [...defaults] : v.split(/\s+/).filter(Boolean);
}

/**
 * Starts one gantry-shim per task, detached from the daemon (own session, stdio to a log file),
 * and finds them again after a daemon restart through the bundle directories under
 * <state>/tasks/<namespace>/<id>, each holding the shim's socket address.
 */
export class ShimManager {
  private readonly shims = new Map<string, ShimHandle>();
  private readonly dead = new Map<string, DeadTask>();
  private readonly monitor: NodeJS.Timeout;
  private spare?: ChildProcess;
  private closed = false;

  constructor(private readonly ctx: DaemonContext) {
    // A shim that dies (kill -9, OOM) takes nothing down with it, but its task must not be left
    // running unsupervised: look for dead shims and clean up after them.
    this.monitor = setInterval(() => this.checkShims(), 500);
    this.monitor.unref();
  }

  /** The task of a shim that died, until it is deleted. */
  deadTask(ns: string, id: string): DeadTask | undefined {
    return this.dead.get(this.key(ns, id));
  }

  deadTasks(ns: string): DeadTask[] {
    return [...this.dead.values()].filter((d) => d.namespace === ns);
  }

  forgetDead(ns: string, id: string): void {
    this.dead.delete(this.key(ns, id));
  }

  private checkShims(): void {
    for (const h of [...this.shims.values()]) {
      if (!processAlive(h.shimPid, this.ctx.state)) void this.cleanupAfterShim(h.namespace, h.id, h.bundle, h.socket, h.shimPid, h);
    }
  }

  /**
   * The shim is gone: kill what is left of its container (all processes in the cgroup), remove the
   * cgroup and runtime state, unmount the rootfs, drop the bundle, and report the task stopped.
   */
  private async cleanupAfterShim(ns: string, id: string, bundle: string, socket: string, shimPid: number, h?: ShimHandle): Promise<void> {
    const key = this.key(ns, id);
    if (h) {
      if (this.shims.get(key) !== h) return;
      this.shims.delete(key);
      h.client.close();
    }
    const reason = `gantry-shim (pid ${shimPid || 'unknown'}) exited unexpectedly; the task was killed and cleaned up`;
    let pid = 0;
    try {
      pid = Number(fs.readFileSync(path.join(bundle, 'init.pid'), 'utf8')) || 0;
    } catch {
      // the task was never created
    }
    const rt = new Runtime({ root: path.join(this.ctx.state, 'runtime', ns) });
    try {
      await rt.delete(id, true);
    } catch (e) {
      this.ctx.log.debug('runtime delete after shim death', { namespace: ns, id, error: (e as Error).message });
    }
    try {
      linuxSys().umount(path.join(bundle, 'rootfs'), 2 /* MNT_DETACH */);
    } catch {
      // not mounted
    }
    fs.rmSync(bundle, { recursive: true, force: true });
    fs.rmSync(socket, { force: true });
    const exitedAt = new Date();
    this.dead.set(key, { namespace: ns, id, pid, exitStatus: DEAD_SHIM_EXIT_STATUS, exitedAt, reason });
    this.ctx.log.warn('shim died', { namespace: ns, id, shim_pid: shimPid, task_pid: pid, reason });
    this.ctx.publish(
      ns,
      '/tasks/exit',
      packAny('containerd.events.TaskExit', events.TaskExit, {
        containerId: id,
        id,
        pid,
        exitStatus: DEAD_SHIM_EXIT_STATUS,
        exitedAt: timestampFromDate(exitedAt),
      }),
    );
  }

  private key(ns: string, id: string): string {
    return `${ns}/${id}`;
  }

  bundleDir(ns: string, id: string): string {
    return path.join(this.ctx.state, 'tasks', ns, id);
  }

  /** Socket paths must stay under 108 bytes whatever the ids: name them by hash, like containerd. */
  private socketPath(ns: string, id: string): string {
    const hash = createHash('sha256').update(`${this.ctx.state}\0${ns}\0${id}`).digest('hex').slice(0, 24);
    return path.join(this.ctx.state, 's', `${hash}.sock`);
  }

  get(ns: string, id: string): ShimHandle | undefined {
    return this.shims.get(this.key(ns, id));
  }

  /** How many tasks' shims are known, in every namespace. */
  get size(): number {
    return this.shims.size;
  }

  list(ns: string): ShimHandle[] {
    return [...this.shims.values()].filter((h) => h.namespace === ns);
  }

  /**
   * A warm spare shim (see gantry-shim --warm): started after the first task, one at a time, so a
   * task start does not wait for Node and gRPC to load. It exits when its stdin closes, so a daemon
   * that dies takes its spare with it.
   */
  private ensureSpare(): void {
    if (this.closed || (this.spare && this.spare.exitCode === null && this.spare.signalCode === null)) return;
    const logFd = fs.openSync(path.join(this.ctx.state, 'shim-spare.log'), 'a', 0o600);
    const child = spawn(process.execPath, [...SHIM_NODE_FLAGS, SHIM_MAIN, 'serve', '--warm', '--pool', `${this.ctx.state}/`], {
      detached: true,
      stdio: ['pipe', logFd, logFd],
      cwd: this.ctx.state,
      env: shimEnv(),
    });
    fs.closeSync(logFd);
    child.unref();
    (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    child.on('error', () => undefined);
    child.stdin?.on('error', () => undefined);
    this.spare = child;
  }

  private takeSpare(): ChildProcess | undefined {
    const c = this.spare;
    this.spare = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null || !c.pid || !processAlive(c.pid, this.ctx.state)) return undefined;
    return c;
  }

  /** Start a shim for a new task; the bundle directory must already hold config.json. */
  async start(ns: string, id: string, bundle: string): Promise<ShimHandle> {
    const socket = this.socketPath(ns, id);
    fs.mkdirSync(path.dirname(socket), { recursive: true, mode: 0o711 });
    fs.rmSync(socket, { force: true });
    const opts = { socket, namespace: ns, id, stateDir: bundle, runtimeRoot: path.join(this.ctx.state, 'runtime', ns), publishAddress: this.ctx.address };
    let child = this.takeSpare();
    if (child) {
      child.stdin?.end(`${JSON.stringify({ ...opts, logFile: path.join(bundle, 'shim.log') })}\n`);
    } else {
      const logFd = fs.openSync(path.join(bundle, 'shim.log'), 'a', 0o600);
      child = spawn(
        process.execPath,
        [
          ...SHIM_NODE_FLAGS,
          SHIM_MAIN,
          'serve',
          '--socket',
          opts.socket,
          '--namespace',
          opts.namespace,
          '--id',
          opts.id,
          '--state-dir',
          opts.stateDir,
          '--runtime-root',
          opts.runtimeRoot,
          '--publish-address',
          opts.publishAddress,
        ],
        { detached: true, stdio: ['ignore', logFd, logFd], cwd: bundle, env: shimEnv() },
      );
      fs.closeSync(logFd);
      child.unref();
    }
    // The next task gets a shim that has already loaded.
    setImmediate(() => this.ensureSpare());
    const shimPid = child.pid ?? 0;
    writeFileAtomic(path.join(bundle, 'address'), socket);
    writeFileAtomic(path.join(bundle, 'shim.pid'), String(shimPid));
    const deadline = Date.now() + 15000;
    let exited = false;
    child.once('exit', () => (exited = true));
    while (!fs.existsSync(socket)) {
      if (exited) throw new Error(`gantry-shim exited during start-up: ${tail(path.join(bundle, 'shim.log'))}`);
      if (Date.now() > deadline) {
        try {
          process.kill(shimPid, 'SIGKILL');
        } catch {
          // gone
        }
        throw new Error('gantry-shim did not start within 15s');
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    const handle: ShimHandle = { namespace: ns, id, bundle, socket, shimPid, client: shimClient(socket) };
    // The socket file appears at bind(), a moment before listen(): a connect in between is refused.
    // Only a channel that reached READY proves the shim serves.
    try {
      await new Promise<void>((resolve, reject) => handle.client.waitForReady(deadline, (err) => (err ? reject(err) : resolve())));
    } catch (e) {
      handle.client.close();
      try {
        process.kill(shimPid, 'SIGKILL');
      } catch {
        // gone
      }
      throw new Error(`gantry-shim did not accept connections: ${(e as Error).message}; ${tail(path.join(bundle, 'shim.log'))}`, { cause: e });
    }
    this.shims.set(this.key(ns, id), handle);
    this.ctx.log.info('shim started', { namespace: ns, id, shim_pid: shimPid });
    return handle;
  }

  /** Ask the shim to exit and forget it; its bundle directory goes too. */
  async stop(h: ShimHandle): Promise<void> {
    try {
      await callShim(h, h.client.shutdown, { id: h.id, now: true }, 5000);
    } catch {
      // already gone
    }
    h.client.close();
    this.shims.delete(this.key(h.namespace, h.id));
    // Gone before we answer: a client that checks right after (a failed create) finds no shim.
    await this.waitShimExit(h.shimPid, 5000);
    // a shim told to stop after a failed create may leave the rootfs mounted: rmdir would be EBUSY
    try {
      linuxSys().umount(path.join(h.bundle, 'rootfs'), 2 /* MNT_DETACH */);
    } catch {
      // not mounted
    }
    fs.rmSync(h.bundle, { recursive: true, force: true });
    fs.rmSync(h.socket, { force: true });
  }

  /** Wait for a shim to exit after Shutdown; one that does not in time is killed. */
  private async waitShimExit(pid: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (processAlive(pid, this.ctx.state)) {
      if (Date.now() > deadline) {
        this.ctx.log.warn('shim did not exit after shutdown; killing it', { shim_pid: pid });
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
        return;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /**
   * After a restart: reconnect to every shim that still answers; bundles whose shim is gone are
   * removed (their task can no longer be reached). Shim processes of this state dir that no bundle
   * leads to are killed: the previous daemon started them (a task's shim, or a spare it had just
   * handed a task) and died before the bundle named them, so no task was ever created in them, and
   * nobody else would ever stop them (found by the fault test: a shim left 30 s after every
   * container was removed). The previous daemon's idle spare goes the same way.
   */
  async reconnect(): Promise<ShimHandle[]> {
    const found: ShimHandle[] = [];
    const running = findShimProcesses(this.ctx.state);
    const kept = new Set<number>();
    const gone: { ns: string; id: string; bundle: string; socket: string; pid: number }[] = [];
    const unnamed: string[] = [];
    const tasksDir = path.join(this.ctx.state, 'tasks');
    for (const ns of safeReaddir(tasksDir)) {
      for (const id of safeReaddir(path.join(tasksDir, ns))) {
        const bundle = path.join(tasksDir, ns, id);
        let socket: string;
        try {
          socket = fs.readFileSync(path.join(bundle, 'address'), 'utf8').trim();
        } catch {
          // the daemon died before the bundle named its shim: no task was created in it
          unnamed.push(bundle);
          continue;
        }
        const recordedPid = this.shimPidOf(bundle, running);
        const client = shimClient(socket);
        const h: ShimHandle = { namespace: ns, id, bundle, socket, client, shimPid: recordedPid };
        try {
          const c = await callShim(h, client.connect, { id }, 3000);
          h.shimPid = c.shimPid;
          kept.add(c.shimPid);
          this.shims.set(this.key(ns, id), h);
          found.push(h);
          this.ctx.log.info('shim reconnected', { namespace: ns, id, shim_pid: c.shimPid, task_pid: c.taskPid });
        } catch (e) {
          if (processAlive(recordedPid, this.ctx.state)) {
            // alive but slow to answer: keep it; the monitor notices if it dies
            kept.add(recordedPid);
            this.shims.set(this.key(ns, id), h);
            found.push(h);
            this.ctx.log.warn('shim did not answer, keeping it', { namespace: ns, id, shim_pid: recordedPid, error: (e as Error).message });
            continue;
          }
          client.close();
          this.ctx.log.warn('shim gone, cleaning up its task', { namespace: ns, id, error: (e as Error).message });
          gone.push({ ns, id, bundle, socket, pid: recordedPid });
        }
      }
    }
    // first the orphans, so none of them is still starting (and making its bundle again) when the
    // bundles go
    const orphans = running.filter((p) => !kept.has(p.pid) && !p.parentDaemon);
    for (const p of orphans) {
      this.ctx.log.warn('orphan shim killed', { shim_pid: p.pid, bundle: p.bundle ?? null, warm: p.warm, cmdline: p.cmdline });
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    for (const p of orphans) await waitUntil(() => processGone(p.pid), 5000);
    const owned = new Set(found.map((h) => path.resolve(h.bundle)));
    for (const g of gone) await this.cleanupAfterShim(g.ns, g.id, g.bundle, g.socket, g.pid);
    for (const bundle of unnamed) this.removeUnusedBundle(bundle);
    for (const p of orphans) if (p.bundle && !owned.has(p.bundle)) this.removeUnusedBundle(p.bundle);
    return found;
  }

  /** The pid in the bundle's `shim.pid`, else (the daemon died before it wrote it) of the shim process naming the bundle. */
  private shimPidOf(bundle: string, running: ShimProcess[]): number {
    try {
      return Number(fs.readFileSync(path.join(bundle, 'shim.pid'), 'utf8')) || 0;
    } catch {
      const pid = running.find((p) => p.bundle === path.resolve(bundle))?.pid ?? 0;
      if (pid) writeFileAtomic(path.join(bundle, 'shim.pid'), String(pid));
      return pid;
    }
  }

  /** A bundle whose shim never held a task: its rootfs was never mounted, no task state exists. */
  private removeUnusedBundle(bundle: string): void {
    const rel = path.relative(path.join(this.ctx.state, 'tasks'), bundle).split(path.sep);
    if (rel.length === 2) fs.rmSync(this.socketPath(rel[0]!, rel[1]!), { force: true });
    fs.rmSync(bundle, { recursive: true, force: true });
  }

  closeAll(): void {
    this.closed = true;
    this.spare?.stdin?.end();
    this.spare = undefined;
    clearInterval(this.monitor);
    for (const h of this.shims.values()) h.client.close();
  }
}

/** What a shim gets of our environment: PATH, GANTRY_TRACE, and GANTRY_WARM_EXEC_MS (its warm exec stages). */
function shimEnv(): NodeJS.ProcessEnv {
  const warm = process.env.GANTRY_WARM_EXEC_MS;
  return { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...traceEnv(), ...(warm !== undefined ? { GANTRY_WARM_EXEC_MS: warm } : {}) };
}

/** Poll `done` every 10 ms until it holds or `timeoutMs` passed. */
async function waitUntil(done: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

/** The last `lines` lines of a shim's log, one line (` | ` between them). */
export function tail(file: string, lines = 3): string {
  try {
    return fs.readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join(' | ');
  } catch {
    return '(no log)';
  }
}
