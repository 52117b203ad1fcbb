import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { callMetadata, containers, events, namespaces, tasks, unaryCall, type UnaryMethod } from '@gantry/api';

const MAIN = path.resolve(__dirname, '../dist/main.js');
import { busyboxBundle } from '@gantry/testkit';
export { waitFor } from '@gantry/testkit';

/** A gantry-containerd started by a test on temporary dirs, with generated clients. */
export class TestDaemon {
  readonly dir: string;
  readonly socket: string;
  proc: ChildProcess | undefined;
  namespaces!: namespaces.NamespacesClient;
  containers!: containers.ContainersClient;
  tasks!: tasks.TasksClient;
  events!: events.EventsClient;

  /** `wrapper`: a command the daemon runs under, e.g. setpriv with a smaller bounding set (it execs node). */
  constructor(private readonly wrapper: string[] = []) {
    // short: the shims' sockets live under <dir>/state/s/
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gc-'));
    this.socket = path.join(this.dir, 'c.sock');
  }

  get logFile(): string {
    return path.join(this.dir, 'daemon.log');
  }

  /**
   * `p`, whose failure carries the daemon's last log lines and every shim log still in its state
   * dir: a shim that dies during a call leaves its reason there, and stop() removes the dir.
   */
  async explain<T>(p: Promise<T>): Promise<T> {
    try {
      return await p;
    } catch (e) {
      const tail = (f: string, n: number) => {
        try {
          return fs.readFileSync(f, 'utf8').trimEnd().split('\n').slice(-n).join('\n');
        } catch {
          return '(none)';
        }
      };
      const shimLogs = spawnSync('find', [path.join(this.dir, 'state'), '-name', '*.log'], { encoding: 'utf8' })
        .stdout.split('\n')
        .filter(Boolean)
        .map((f) => `--- ${f}\n${tail(f, 20)}`);
      if (e instanceof Error) e.message += `\n--- daemon log\n${tail(this.logFile, 40)}\n${shimLogs.join('\n')}`;
      throw e;
    }
  }

  /** `opts`: Node flags before the daemon's script (a `--require` preload) and variables added to its environment. */
  async start(opts: { nodeArgs?: string[]; env?: NodeJS.ProcessEnv } = {}): Promise<void> {
    const log = fs.openSync(this.logFile, 'a');
    const [cmd, ...pre] = [...this.wrapper, process.execPath];
    this.proc = spawn(
      cmd!,
      [
        ...pre,
        ...(opts.nodeArgs ?? []),
        MAIN,
        '--address',
        this.socket,
        '--root',
        path.join(this.dir, 'root'),
        '--state',
        path.join(this.dir, 'state'),
        '--log-level',
        'debug',
      ],
      {
        stdio: ['ignore', log, log],
        env: { ...process.env, ...opts.env },
      },
    );
    fs.closeSync(log);
    const deadline = Date.now() + 15000;
    while (!fs.existsSync(this.socket)) {
      if (this.proc.exitCode !== null) throw new Error(`daemon exited: ${fs.readFileSync(this.logFile, 'utf8')}`);
      if (Date.now() > deadline) throw new Error('daemon did not start');
      await new Promise((r) => setTimeout(r, 20));
    }
    const addr = `unix://${this.socket}`;
    this.namespaces = new namespaces.NamespacesClient(addr, credentials.createInsecure());
    this.containers = new containers.ContainersClient(addr, credentials.createInsecure());
    this.tasks = new tasks.TasksClient(addr, credentials.createInsecure());
    this.events = new events.EventsClient(addr, credentials.createInsecure());
    // the socket file is there from bind(); the first call must not race the daemon's start-up. Each
    // client has its own channel, and a call on a channel that is still connecting fails UNAVAILABLE
    // (a test saw it once after a restart under load): every one of them waits until it is ready.
    await Promise.all(
      [this.namespaces, this.containers, this.tasks, this.events].map(
        (c) =>
          new Promise<void>((resolve, reject) => c.waitForReady(deadline, (err) => (err ? reject(new Error(`daemon not ready: ${err.message}`)) : resolve()))),
      ),
    );
  }

  closeClients(): void {
    for (const c of [this.namespaces, this.containers, this.tasks, this.events]) c?.close();
  }

  /** kill -9: the daemon dies at once, shims stay. */
  async crash(): Promise<void> {
    this.closeClients();
    const p = this.proc!;
    p.kill('SIGKILL');
    if (p.exitCode === null && p.signalCode === null) await new Promise((r) => p.once('exit', r));
    fs.rmSync(this.socket, { force: true });
  }

  async stop(): Promise<void> {
    this.closeClients();
    const p = this.proc;
    if (p && (p.exitCode !== null || p.signalCode !== null) && p.signalCode !== 'SIGKILL') {
      // died on its own: keep what it said, the directory goes below
      process.stderr.write(
        `gantry-containerd exited (${p.exitCode ?? p.signalCode}) before stop; its log:\n${fs.readFileSync(this.logFile, 'utf8').slice(-8000)}\n`,
      );
    }
    if (p && p.exitCode === null && p.signalCode === null) {
      p.kill('SIGTERM');
      await new Promise((r) => p.once('exit', r));
    }
    // shims this daemon started: their command line names our state dir
    for (const pid of fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
      try {
        const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        if (/\/shim\/dist\/(bundle\/)?main\.js/.test(cmd) && cmd.includes(this.dir)) process.kill(Number(pid), 'SIGKILL');
      } catch {
        // gone
      }
    }
    spawnSync('sh', ['-c', `grep -o " ${this.dir}[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l`]);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A unary call in namespace `ns` (none when empty), through @gantry/api's typed client layer. */
export function call<Req, Res>(client: object, fn: UnaryMethod<Req, Res>, req: Req, ns = 'test'): Promise<Res> {
  return unaryCall(client, fn, req, callMetadata(ns ? { namespace: ns } : {}));
}

/** A busybox bundle made by the repository's tool; returns its config.json (root.path absolute). */
export function busyboxSpec(dir: string, args: string[]): Record<string, unknown> {
  const bundle = path.join(dir, `bundle-${Math.random().toString(36).slice(2, 8)}`);
  busyboxBundle(bundle, args);
  const spec = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8')) as { root: { path: string } } & Record<string, unknown>;
  spec.root.path = path.join(bundle, 'rootfs');
  return spec;
}
