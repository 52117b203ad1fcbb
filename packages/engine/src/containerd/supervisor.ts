import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Logger } from '@gantry/containerd';

const CONTAINERD_MAIN = path.join(path.dirname(require.resolve('@gantry/containerd/package.json')), 'dist', 'main.js');

/**
 * Runs gantry-containerd as gantryd's child when no --containerd address is given, restarts it if
 * it dies (tasks survive in their shims and are adopted again), and stops it on shutdown.
 */
export class ContainerdSupervisor {
  private child: ChildProcess | undefined;
  private stopping = false;
  private restarts = 0;

  constructor(
    readonly address: string,
    private readonly root: string,
    private readonly state: string,
    private readonly log: Logger,
  ) {}

  async start(timeoutMs = 20000): Promise<void> {
    this.spawnOnce();
    const deadline = Date.now() + timeoutMs;
    while (!fs.existsSync(this.address)) {
      if (Date.now() > deadline) throw new Error(`gantry-containerd did not start within ${timeoutMs} ms (log: ${this.logFile})`);
      if (this.child?.exitCode !== null && this.child?.exitCode !== undefined) throw new Error(`gantry-containerd exited with ${this.child.exitCode} (log: ${this.logFile})`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  get logFile(): string {
    return path.join(this.state, 'containerd.log');
  }

  get pid(): number | undefined {
    return this.child?.pid;
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
    this.log.info('gantry-containerd started', { pid: child.pid, address: this.address });
    child.once('exit', (code, signal) => {
      if (this.stopping) return;
      this.log.error('gantry-containerd exited; restarting', { code, signal, restarts: this.restarts });
      const delay = Math.min(100 * 2 ** this.restarts++, 5000);
      setTimeout(() => {
        if (!this.stopping) this.spawnOnce();
      }, delay).unref();
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
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
