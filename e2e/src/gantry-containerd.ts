/**
 * A private gantry-containerd for end-to-end tests: its socket, root and state under a short
 * temporary directory (/tmp/gce-XXXXXX: the shims' sockets live under it and unix socket paths are
 * limited to 108 bytes), driven with Debian's real `ctr` and with @gantry/api's generated clients.
 *
 * Only processes this harness started are ever signalled, always by pid: the daemon it spawned,
 * then gantry-shim processes whose command line names this harness's directory (the daemon starts
 * them detached and leaves them running when it stops, as containerd does with its shims).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { containers } from '@gantry/api';
import { type CommandResult, sleep, within } from './containerd';
import { bundleTool, repoRoot, which } from './paths';
import { unmountUnder } from './mounts';

/** type_url containerd (and ctr) give an OCI runtime spec in Container.spec. */
export const SPEC_TYPE = 'types.containerd.io/opencontainers/runtime-spec/1/Spec';
/** The runtime name containers are created with (gantry-containerd runs every task in gantry-shim). */
export const RUNTIME_NAME = 'io.containerd.gantry.v1';

export const DAEMON_BIN = join(repoRoot, 'bin', 'gantry-containerd');
const DAEMON_MAIN = join(repoRoot, 'packages', 'containerd', 'dist', 'main.js');
/** The shim gantry-containerd spawns: its bundle (tools/bundle-shim.mjs). */
const SHIM_MAIN = join(repoRoot, 'packages', 'shim', 'dist', 'bundle', 'main.js');

export interface CtrOptions {
  /** containerd namespace (`ctr -n`); default the harness's. */
  namespace?: string;
  /** Kills ctr after this long (the result then has status null). Default 30 s. */
  timeoutMs?: number;
}

export class TestGantryContainerd {
  readonly dir: string;
  readonly socket: string;
  readonly root: string;
  readonly state: string;
  /** Where `ctr tasks start --fifo-dir` puts its FIFOs, so nothing lands in /run/containerd/fifo. */
  readonly fifoDir: string;
  readonly namespace: string;
  readonly ctrBin: string;
  /** More flags for the daemon (e.g. `--config <toml>`). */
  readonly extraArgs: string[] = [];
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  private containersClient: containers.ContainersClient | undefined;
  private bundles = 0;
  /** Top-level cgroup directories before start(): the daemon puts tasks in /<namespace>/<id>. */
  private cgroupsBefore = new Set<string>();

  constructor(namespace = 'test') {
    const ctr = which('ctr');
    if (!ctr) throw new Error('ctr is not installed (apt-get install containerd)');
    if (process.getuid?.() !== 0) throw new Error('e2e tests start a daemon and containers: run them as root');
    if (!existsSync(DAEMON_MAIN) || !existsSync(SHIM_MAIN)) {
      throw new Error(`${DAEMON_MAIN} or ${SHIM_MAIN} missing: run 'npm run build' in the repository first`);
    }
    this.ctrBin = ctr;
    this.namespace = namespace;
    // Not os.tmpdir(): $TMPDIR may be long, and shim sockets are <dir>/state/s/<24 hex>.sock.
    this.dir = mkdtempSync('/tmp/gce-');
    this.socket = join(this.dir, 'c.sock');
    this.root = join(this.dir, 'root');
    this.state = join(this.dir, 'state');
    this.fifoDir = join(this.dir, 'fifo');
    mkdirSync(this.fifoDir);
  }

  get logFile(): string {
    return join(this.dir, 'daemon.log');
  }

  /** Starts bin/gantry-containerd and waits until its socket exists and `ctr version` answers. */
  async start(timeoutMs = 20000): Promise<void> {
    if (!this.child) this.cgroupsBefore = new Set(topLevelCgroups()); // a restart keeps the first start's view
    const log = openSync(this.logFile, 'a');
    try {
      this.child = spawn(DAEMON_BIN, ['--address', this.socket, '--root', this.root, '--state', this.state, '--log-level', 'debug', ...this.extraArgs], {
        stdio: ['ignore', log, log],
      });
    } finally {
      closeSync(log);
    }
    const child = this.child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`gantry-containerd exited during start-up:\n${this.logTail()}`);
      }
      if (existsSync(this.socket) && this.ctr(['version'], { timeoutMs: 5000 }).status === 0) break;
      if (Date.now() > deadline) throw new Error(`gantry-containerd did not answer within ${timeoutMs} ms:\n${this.logTail()}`);
      await sleep(50);
    }
    this.containersClient = new containers.ContainersClient(`unix://${this.socket}`, credentials.createInsecure());
  }

  /** SIGTERM to the daemon only: its shims and their tasks keep running; start() brings it back. */
  async stopDaemonOnly(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.containersClient?.close();
    child.kill('SIGTERM');
    if (!(await within(this.exited!, 10000))) {
      child.kill('SIGKILL');
      await within(this.exited!, 5000);
    }
  }

  /** The daemon's pid while it runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Runs `ctr -a <socket> -n <namespace> ...args` to completion. */
  ctr(args: string[], opts: CtrOptions = {}): CommandResult {
    const r = spawnSync(this.ctrBin, ['-a', this.socket, '-n', opts.namespace ?? this.namespace, ...args], {
      encoding: 'utf8',
      timeout: opts.timeoutMs ?? 30000,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (r.error && (r.error as NodeJS.ErrnoException).code !== 'ETIMEDOUT') throw r.error;
    return { status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  }

  /** Starts `ctr ...args` in the background (e.g. `ctr events`); the caller kills it by pid. */
  spawnCtr(args: string[], opts: Pick<CtrOptions, 'namespace'> = {}): ChildProcess {
    return spawn(this.ctrBin, ['-a', this.socket, '-n', opts.namespace ?? this.namespace, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }

  /** The tasks `ctr tasks ls` reports, by container id. */
  tasks(namespace?: string): Map<string, { pid: number; status: string }> {
    const r = this.ctr(['tasks', 'ls'], { namespace });
    if (r.status !== 0) throw new Error(`ctr tasks ls failed: ${r.stderr}`);
    const tasks = new Map<string, { pid: number; status: string }>();
    for (const line of r.stdout.split('\n').slice(1)) {
      const [id, pid, status] = line.trim().split(/\s+/);
      if (id && pid && status) tasks.set(id, { pid: Number(pid), status });
    }
    return tasks;
  }

  /**
   * A busybox bundle of its own under the harness directory (tools/make-busybox-bundle.sh) whose
   * config.json runs `args`; returns that spec with root.path made absolute.
   */
  busyboxSpec(args: string[]): Record<string, unknown> {
    const bundle = join(this.dir, 'bundles', `b${++this.bundles}`);
    const made = spawnSync('bash', [bundleTool, bundle, '--', ...args], { encoding: 'utf8' });
    if (made.status !== 0) throw new Error(`make-busybox-bundle failed: ${made.stderr}`);
    const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as { root: { path: string } } & Record<string, unknown>;
    spec.root.path = join(bundle, 'rootfs');
    return spec;
  }

  /** Containers.Create through the generated client: a busybox container running `args`. */
  createContainer(id: string, args: string[], namespace = this.namespace): Promise<containers.CreateContainerResponse> {
    const client = this.containersClient;
    if (!client) return Promise.reject(new Error('daemon not started'));
    const spec = this.busyboxSpec(args);
    const md = new Metadata();
    md.set('containerd-namespace', namespace);
    const req = containers.CreateContainerRequest.fromPartial({
      container: {
        id,
        image: 'gantry-e2e/busybox',
        runtime: { name: RUNTIME_NAME },
        spec: { typeUrl: SPEC_TYPE, value: Buffer.from(JSON.stringify(spec)) },
      },
    });
    return new Promise((resolve, reject) =>
      client.create(req, md, (err: ServiceError | null, res: containers.CreateContainerResponse) => (err ? reject(err) : resolve(res))),
    );
  }

  logTail(lines = 40): string {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no gantry-containerd log)';
    }
  }

  /**
   * Removes everything this harness made: tasks and containers in `namespaces` (through ctr, so
   * container processes end with their tasks), the daemon (SIGTERM), then the shims it left
   * running, mounts under its directory, the directory itself. Never throws.
   */
  async stop(namespaces: string[] = [this.namespace]): Promise<void> {
    this.containersClient?.close();
    const child = this.child;
    const running = child !== undefined && child.exitCode === null && child.signalCode === null;
    if (running) {
      for (const ns of namespaces) {
        try {
          for (const id of this.tasks(ns).keys()) {
            this.ctr(['tasks', 'kill', '-s', 'SIGKILL', id], { namespace: ns, timeoutMs: 10000 });
            this.ctr(['tasks', 'delete', '-f', id], { namespace: ns, timeoutMs: 10000 });
          }
          const ids = this.ctr(['containers', 'ls', '-q'], { namespace: ns, timeoutMs: 10000 }).stdout.split('\n').filter(Boolean);
          for (const id of ids) this.ctr(['containers', 'rm', id], { namespace: ns, timeoutMs: 10000 });
        } catch {
          // best effort: the daemon may be wedged; the steps below still run
        }
      }
      child.kill('SIGTERM');
      if (!(await within(this.exited!, 10000))) {
        child.kill('SIGKILL');
        await within(this.exited!, 5000);
      }
    }
    const shims = this.ownShimPids();
    for (const pid of shims) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    const deadline = Date.now() + 5000;
    while (shims.some((pid) => existsSync(`/proc/${pid}`)) && Date.now() < deadline) await sleep(50);
    // parents the runtime made for namespaces (/<ns>) that were not there before; rmdir only removes empty ones
    for (const dir of topLevelCgroups()) {
      if (this.cgroupsBefore.has(dir) || !namespaces.some((ns) => dir.endsWith(`/${ns}`))) continue;
      try {
        rmdirSync(dir);
      } catch {
        // still in use, or not ours to remove
      }
    }
    unmountUnder(this.dir);
    try {
      rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      // leave it for inspection rather than fail the suite's teardown
    }
  }

  /** gantry-shim processes whose command line names this harness's directory. */
  ownShimPids(): number[] {
    const pids: number[] = [];
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
      let argv: string[];
      try {
        argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      } catch {
        continue;
      }
      const isShim = argv.some((a) => a === SHIM_MAIN || /\/shim\/dist\/(bundle\/)?main\.js$/.test(a) || a.endsWith('/gantry-shim'));
      if (isShim && argv.some((a) => a === this.dir || a.startsWith(this.dir + '/'))) pids.push(Number(entry));
    }
    return pids;
  }
}

const CGROUP_ROOT = '/sys/fs/cgroup';

/** Directories one level below the cgroup root of every hierarchy (v1) or the unified tree (v2). */
function topLevelCgroups(): string[] {
  const out: string[] = [];
  const dirsIn = (d: string): string[] => {
    try {
      return readdirSync(d)
        .map((e) => join(d, e))
        .filter((p) => {
          try {
            return statSync(p).isDirectory();
          } catch {
            return false;
          }
        });
    } catch {
      return [];
    }
  };
  if (existsSync(join(CGROUP_ROOT, 'cgroup.controllers'))) return dirsIn(CGROUP_ROOT);
  for (const hierarchy of dirsIn(CGROUP_ROOT)) out.push(...dirsIn(hierarchy));
  return out;
}
