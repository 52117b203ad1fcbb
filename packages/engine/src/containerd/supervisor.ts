import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { writeFileAtomic, type Logger } from '@gantry/linux';
import * as path from 'node:path';
import { nextRestartDelay } from '../containers/restart-policy';

/** gantryd cannot serve without gantry-containerd: retry it sooner than a container's 1-minute cap. */
const MAX_RESPAWN_DELAY_MS = 5000;

// gantryd shares no code with gantry-containerd, it runs its binary: the sibling package of this
// checkout (packages/engine/dist/containerd → packages/containerd/dist/main.js), as bin/ does.
const CONTAINERD_MAIN = path.resolve(__dirname, '..', '..', '..', 'containerd', 'dist', 'main.js');

/**
 * Runs gantry-containerd as gantryd's child when no --containerd address is given, restarts it if
 * it dies (tasks survive in their shims and are adopted again), and stops it on shutdown.
 */
export class ContainerdSupervisor {
  private child: ChildProcess | undefined;
  /** A gantry-containerd left running by an earlier gantryd that died (kill -9): used, not replaced. */
  private adopted: number | undefined;
  private adoptedWatch: NodeJS.Timeout | undefined;
  private stopping = false;
  private restarts = 0;
  /** The delay before the last respawn (0: none yet); back-off as for containers, capped at 5 s. */
  private lastDelayMs = 0;

  constructor(
    readonly address: string,
    private readonly root: string,
    private readonly state: string,
    private readonly log: Logger,
  ) {}

  async start(timeoutMs = 20000): Promise<void> {
    const orphan = this.findOrphan();
    if (orphan !== undefined && fs.existsSync(this.address)) this.adopt(orphan);
    else {
      if (orphan !== undefined) await this.end(orphan);
      // a socket left by a gantry-containerd that was killed would pass for the new one's
      fs.rmSync(this.address, { force: true });
      this.spawnOnce();
    }
    const deadline = Date.now() + timeoutMs;
    while (!fs.existsSync(this.address)) {
      if (Date.now() > deadline) throw new Error(`gantry-containerd did not start within ${timeoutMs} ms (log: ${this.logFile})`);
      if (this.child?.exitCode !== null && this.child?.exitCode !== undefined)
        throw new Error(`gantry-containerd exited with ${this.child.exitCode} (log: ${this.logFile})`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  get logFile(): string {
    return path.join(this.state, 'containerd.log');
  }

  get pid(): number | undefined {
    return this.adopted ?? this.child?.pid;
  }

  private get pidFile(): string {
    return path.join(this.state, 'gantry-containerd.pid');
  }

  /** The gantry-containerd our pid file names, if it still runs on our address. */
  private findOrphan(): number | undefined {
    try {
      const pid = Number(fs.readFileSync(this.pidFile, 'utf8').trim());
      if (!Number.isInteger(pid) || pid <= 0) return undefined;
      const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      return argv.includes(CONTAINERD_MAIN) && argv[argv.indexOf('--address') + 1] === this.address ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  /** Use the running gantry-containerd and watch it: when it ends, run our own. */
  private adopt(pid: number): void {
    this.adopted = pid;
    this.log.info('gantry-containerd still running; using it', { pid, address: this.address });
    this.adoptedWatch = setInterval(() => {
      if (alive(pid)) return;
      clearInterval(this.adoptedWatch);
      this.adopted = undefined;
      if (this.stopping) return;
      this.log.error('adopted gantry-containerd exited; starting a new one', { pid });
      this.spawnOnce();
    }, 500);
    this.adoptedWatch.unref();
  }

  /** SIGTERM a process that is not our child, SIGKILL after 10 s. */
  private async end(pid: number): Promise<void> {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      return;
    }
    const deadline = Date.now() + 10000;
    while (alive(pid)) {
      if (Date.now() > deadline) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          return;
        }
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private spawnOnce(): void {
    fs.mkdirSync(this.state, { recursive: true, mode: 0o711 });
    const log = fs.openSync(this.logFile, 'a', 0o600);
    const child = spawn(process.execPath, [CONTAINERD_MAIN, '--address', this.address, '--root', this.root, '--state', this.state], {
      stdio: ['ignore', log, log],
      // its own process group: a Ctrl-C meant for gantryd must not kill it mid-write
      detached: true,
    });
    fs.closeSync(log);
    this.child = child;
    const startedAt = Date.now();
    if (child.pid) writeFileAtomic(this.pidFile, `${child.pid}\n`, { mode: 0o644 });
    this.log.info('gantry-containerd started', { pid: child.pid, address: this.address });
    child.once('exit', (code, signal) => {
      if (this.stopping) return;
      const delay = (this.lastDelayMs = nextRestartDelay(this.lastDelayMs, Date.now() - startedAt, MAX_RESPAWN_DELAY_MS));
      this.restarts++;
      this.log.error('gantry-containerd exited; restarting', { code, signal, restarts: this.restarts, delayMs: delay });
      setTimeout(() => {
        if (!this.stopping) this.spawnOnce();
      }, delay).unref();
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.adoptedWatch);
    if (this.adopted !== undefined) {
      await this.end(this.adopted);
      this.adopted = undefined;
      return;
    }
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => child.kill('SIGKILL'), 10000);
      child.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }
}

/** The process exists and is not a zombie (an orphan's reaper may be slow, or may not reap at all). */
function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
