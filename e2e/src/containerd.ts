/**
 * A private containerd for end-to-end tests: its own root, state, sockets and namespace under a
 * temporary directory, so it never touches a containerd the machine may already run.
 *
 * Only processes this harness started are ever signalled, always by pid: the containerd it
 * spawned, and shims whose command line names this containerd's socket.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { which } from './paths';
import { unmountUnder } from './mounts';

export interface CommandResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Plugins that need the network (CRI), or storage drivers this machine does not have. */
const DISABLED_PLUGINS = [
  'io.containerd.grpc.v1.cri',
  'io.containerd.snapshotter.v1.btrfs',
  'io.containerd.snapshotter.v1.zfs',
  'io.containerd.snapshotter.v1.aufs',
  'io.containerd.snapshotter.v1.devmapper',
  'io.containerd.internal.v1.opt',
  'io.containerd.tracing.processor.v1.otlp',
  'io.containerd.internal.v1.tracing',
];

/** Directories containerd 1.6 creates under /run whatever its config says (shim sockets). */
const FIXED_RUN_DIRS = ['/run/containerd/s', '/run/containerd'];

export class TestContainerd {
  readonly dir: string;
  readonly socket: string;
  readonly namespace: string;
  readonly snapshotter = 'overlayfs';
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  private readonly runDirsBefore: Map<string, boolean>;
  private readonly containerdBin: string;
  private readonly ctrBin: string;

  constructor(namespace = 'gantry-e2e') {
    const containerd = which('containerd');
    const ctr = which('ctr');
    if (!containerd || !ctr) throw new Error('containerd and ctr must be installed (apt-get install containerd)');
    if (process.getuid?.() !== 0) throw new Error('e2e tests start containerd and containers: run them as root');
    this.containerdBin = containerd;
    this.ctrBin = ctr;
    this.namespace = namespace;
    this.dir = mkdtempSync(join(tmpdir(), 'gantry-e2e-'));
    this.socket = join(this.dir, 'containerd.sock');
    this.runDirsBefore = new Map(FIXED_RUN_DIRS.map((d) => [d, existsSync(d)]));
  }

  get logFile(): string {
    return join(this.dir, 'containerd.log');
  }

  /** Writes the config, starts containerd and waits until it answers on its socket. */
  async start(timeoutMs = 20000): Promise<void> {
    const config = join(this.dir, 'config.toml');
    const q = (s: string): string => JSON.stringify(s); // TOML basic strings accept JSON escapes
    writeFileSync(
      config,
      [
        'version = 2',
        `root = ${q(join(this.dir, 'root'))}`,
        `state = ${q(join(this.dir, 'state'))}`,
        `disabled_plugins = [${DISABLED_PLUGINS.map(q).join(', ')}]`,
        '',
        '[grpc]',
        `  address = ${q(this.socket)}`,
        '',
        '[ttrpc]',
        `  address = ${q(this.socket + '.ttrpc')}`,
        '',
        '[debug]',
        '  address = ""',
        '  level = "info"',
        '',
        '[metrics]',
        '  address = ""',
        '',
      ].join('\n'),
    );
    const log = openSync(this.logFile, 'a');
    try {
      this.child = spawn(this.containerdBin, ['--config', config], { stdio: ['ignore', log, log] });
    } finally {
      closeSync(log);
    }
    const child = this.child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));

    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`containerd exited during start-up:\n${this.logTail()}`);
      }
      if (existsSync(this.socket) && this.ctr(['version'], 5000).status === 0) return;
      if (Date.now() > deadline) throw new Error(`containerd did not answer within ${timeoutMs} ms:\n${this.logTail()}`);
      await sleep(100);
    }
  }

  /** Runs `ctr -a <socket> -n <namespace> ...args`. */
  ctr(args: string[], timeoutMs = 60000): CommandResult {
    const r = spawnSync(this.ctrBin, ['-a', this.socket, '-n', this.namespace, ...args], {
      encoding: 'utf8',
      timeout: timeoutMs,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (r.error && (r.error as NodeJS.ErrnoException).code !== 'ETIMEDOUT') throw r.error;
    return { status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  }

  /** The tasks `ctr tasks ls` reports, by container id. */
  tasks(): Map<string, { pid: number; status: string }> {
    const r = this.ctr(['tasks', 'ls']);
    if (r.status !== 0) throw new Error(`ctr tasks ls failed: ${r.stderr}`);
    const tasks = new Map<string, { pid: number; status: string }>();
    for (const line of r.stdout.split('\n').slice(1)) {
      const [id, pid, status] = line.trim().split(/\s+/);
      if (id && pid && status) tasks.set(id, { pid: Number(pid), status });
    }
    return tasks;
  }

  logTail(lines = 40): string {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no containerd log)';
    }
  }

  /**
   * Removes everything this harness made: tasks and containers in its namespace, the shims and
   * containerd it started, mounts under its directory, the directory itself. Never throws.
   */
  async stop(): Promise<void> {
    const child = this.child;
    const running = child !== undefined && child.exitCode === null && child.signalCode === null;
    if (running) {
      try {
        for (const id of this.tasks().keys()) {
          this.ctr(['tasks', 'kill', '-s', 'SIGKILL', id], 10000);
          this.ctr(['tasks', 'delete', '-f', id], 10000);
        }
        const containers = this.ctr(['containers', 'ls', '-q'], 10000);
        for (const id of containers.stdout.split('\n').filter(Boolean)) this.ctr(['containers', 'rm', id], 10000);
      } catch {
        // best effort: containerd may be wedged; the steps below still run
      }
    }
    const shims = this.ownShimPids();
    if (running && child.pid !== undefined) {
      child.kill('SIGTERM');
      if (!(await within(this.exited!, 10000))) {
        child.kill('SIGKILL');
        await within(this.exited!, 5000);
      }
    }
    for (const pid of [...shims, ...this.ownShimPids()]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    unmountUnder(this.dir);
    try {
      rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      // leave it for inspection rather than fail the suite's teardown
    }
    for (const [dir, existed] of this.runDirsBefore) {
      if (!existed) {
        try {
          rmdirSync(dir); // only if empty
        } catch {
          // not empty or not there
        }
      }
    }
  }

  /** Pids of containerd-shim processes started for this containerd (their args name its socket). */
  private ownShimPids(): number[] {
    const pids: number[] = [];
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let argv: string[];
      try {
        argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      } catch {
        continue;
      }
      if (!argv[0]?.includes('containerd-shim')) continue;
      const addr = argv.indexOf('-address');
      if (addr >= 0 && argv[addr + 1] === this.socket) pids.push(Number(entry));
    }
    return pids;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits for `p` at most `ms`; true when it settled in time. */
export async function within(p: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([p.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
