/**
 * A private dockerd for end-to-end tests: its own data root, exec root, socket, config file,
 * containerd namespaces and parent cgroup, all named after a temporary directory, so it never
 * touches a dockerd or containerd the machine may already run. dockerd starts (and stops) its own
 * containerd under the exec root.
 *
 * Only processes this harness started are ever signalled, always by pid: the dockerd it spawned,
 * leftover processes whose command line names this harness's directory (dockerd's containerd,
 * containerd-shim-runc-v2, runtime invocations) and the container processes those shims parent.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, rmdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { type CommandResult, sleep, within } from './containerd';
import { isExecutable, runtimeUnderTest, which } from './paths';
import { unmountUnder } from './mounts';

export interface DockerOptions {
  /** Kills the client after this long (the result then has status null). Default 60 s. */
  timeoutMs?: number;
  /** Written to the client's stdin; stdin is /dev/null when absent. */
  input?: string;
}

/**
 * Paths dockerd 20.10 and its containerd create outside their configured roots whatever the flags
 * say: the shim socket directory, the plugin discovery directory, and the daemon's trust key.
 * stop() removes the ones that were not there before start(), directories only when empty.
 */
const FIXED_DIRS = ['/run/containerd/s', '/run/containerd', '/run/docker/plugins', '/run/docker', '/etc/docker'];
const TRUST_KEY = '/etc/docker/key.json';

/** Directories searched after PATH: dockerd lives in /usr/sbin, which a non-root PATH may lack. */
const SYSTEM_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

function findTool(name: string): string | undefined {
  return which(name) ?? SYSTEM_DIRS.map((d) => join(d, name)).find(isExecutable);
}

/** Single-quotes `s` for a POSIX shell. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export class TestDockerd {
  /** Short on purpose: containerd's socket lives under it and unix socket paths are limited to 108 bytes. */
  readonly dir: string;
  readonly socket: string;
  readonly dataRoot: string;
  readonly execRoot: string;
  /** containerd namespace of dockerd's containers (and, suffixed, of its plugins). */
  readonly namespace: string;
  /** Parent cgroup of every container, e.g. /gantry-e2e-gd-Ab12Cd (cgroupfs driver). */
  readonly cgroupParent: string;
  /** The OCI runtime registered as `--add-runtime gantry=<runtime>`. */
  readonly runtime: string;
  readonly dockerBin: string;
  private readonly dockerdBin: string;
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  private readonly existedBefore: Map<string, boolean>;

  /** `wrapper`: a command dockerd runs under (it execs dockerd), e.g. setpriv with a smaller bounding set. */
  constructor(
    runtime: string = runtimeUnderTest(),
    private readonly wrapper: string[] = [],
  ) {
    const dockerd = findTool('dockerd');
    const docker = findTool('docker');
    if (!dockerd) throw new Error('dockerd is not installed (apt-get install docker.io, or tools/install-deps.sh)');
    if (!docker) throw new Error('the docker CLI is not installed (apt-get install docker.io ships one)');
    if (!findTool('containerd') || !findTool('runc')) {
      throw new Error('dockerd needs containerd and runc on PATH (apt-get install containerd runc)');
    }
    if (process.getuid?.() !== 0) throw new Error('e2e tests start dockerd and containers: run them as root');
    this.dockerdBin = dockerd;
    this.dockerBin = docker;
    this.runtime = runtime;
    // Not os.tmpdir(): $TMPDIR may be long, and containerd's socket is <dir>/x/containerd/containerd.sock.
    this.dir = mkdtempSync('/tmp/gd-');
    this.socket = join(this.dir, 'docker.sock');
    this.dataRoot = join(this.dir, 'data');
    this.execRoot = join(this.dir, 'x');
    this.namespace = `gantry-e2e-${basename(this.dir)}`;
    this.cgroupParent = `/${this.namespace}`;
    this.existedBefore = new Map([...FIXED_DIRS, TRUST_KEY].map((p) => [p, existsSync(p)]));
  }

  get logFile(): string {
    return join(this.dir, 'dockerd.log');
  }

  /** Environment of every docker CLI call: this daemon, and a CLI config directory of its own. */
  get env(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DOCKER_HOST: `unix://${this.socket}`,
      DOCKER_CONFIG: join(this.dir, 'cli'),
      DOCKER_CLI_HINTS: 'false',
    };
    for (const v of ['DOCKER_CONTEXT', 'DOCKER_TLS_VERIFY', 'DOCKER_CERT_PATH', 'DOCKER_API_VERSION']) delete env[v];
    return env;
  }

  /** Starts dockerd (which starts its containerd) and waits until `docker version` answers. */
  async start(timeoutMs = 30000): Promise<void> {
    // Our own (empty) config file, so /etc/docker/daemon.json cannot change or break this daemon.
    const config = join(this.dir, 'daemon.json');
    writeFileSync(config, '{}\n');
    const args = [
      '--config-file',
      config,
      '--data-root',
      this.dataRoot,
      '--exec-root',
      this.execRoot,
      '--pidfile',
      join(this.dir, 'dockerd.pid'),
      '-H',
      `unix://${this.socket}`,
      '--containerd-namespace',
      this.namespace,
      '--containerd-plugins-namespace',
      `${this.namespace}-plugins`,
      '--cgroup-parent',
      this.cgroupParent,
      '--bridge=none',
      '--iptables=false',
      '--ip-forward=false',
      '--ip-masq=false',
      '--storage-driver',
      'overlay2',
      '--add-runtime',
      `gantry=${this.runtime}`,
    ];
    // dockerd finds containerd, runc and containerd-shim-runc-v2 on PATH; the runtime launcher finds node there.
    const path = (process.env.PATH ?? '').split(':').filter(Boolean);
    const env = { ...process.env, PATH: [...path, ...SYSTEM_DIRS.filter((d) => !path.includes(d))].join(':') };
    const log = openSync(this.logFile, 'a');
    try {
      const [cmd, ...pre] = [...this.wrapper, this.dockerdBin];
      this.child = spawn(cmd!, [...pre, ...args], { stdio: ['ignore', log, log], env });
    } finally {
      closeSync(log);
    }
    const child = this.child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));

    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`dockerd exited during start-up:\n${this.logTail()}`);
      }
      if (existsSync(this.socket) && this.docker(['version', '--format', '{{.Server.Version}}'], { timeoutMs: 5000 }).status === 0) {
        return;
      }
      if (Date.now() > deadline) throw new Error(`dockerd did not answer within ${timeoutMs} ms:\n${this.logTail()}`);
      await sleep(200);
    }
  }

  /** Runs the docker CLI against this daemon. */
  docker(args: string[], opts: DockerOptions = {}): CommandResult {
    const r = spawnSync(this.dockerBin, args, {
      encoding: 'utf8',
      timeout: opts.timeoutMs ?? 60000,
      killSignal: 'SIGKILL', // `docker run` passes SIGTERM on to the container and keeps waiting
      env: this.env,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      input: opts.input,
    });
    // EPIPE: the client exited without reading all of `input`; its status and output say how it went
    if (r.error && !['ETIMEDOUT', 'EPIPE'].includes((r.error as NodeJS.ErrnoException).code ?? '')) throw r.error;
    return { status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  }

  /**
   * Runs the docker CLI inside a real terminal (util-linux `script`), as `docker run -it` needs.
   * The status is the client's (`script -e`); stdout is what the terminal showed (CRLF line ends).
   */
  dockerInTerminal(args: string[], timeoutMs = 60000): CommandResult {
    const script = findTool('script');
    if (!script) throw new Error('util-linux script is not installed');
    const command = [this.dockerBin, ...args].map(shellQuote).join(' ');
    const r = spawnSync(script, ['-qec', command, '/dev/null'], {
      encoding: 'utf8',
      timeout: timeoutMs,
      env: { ...this.env, SHELL: '/bin/sh' },
      stdio: ['pipe', 'pipe', 'pipe'],
      input: '',
    });
    if (r.error && (r.error as NodeJS.ErrnoException).code !== 'ETIMEDOUT') throw r.error;
    return { status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  }

  /** `docker inspect -f <format> <id>`, trimmed; throws when docker fails. */
  inspect(id: string, format: string): string {
    const r = this.docker(['inspect', '-f', format, id]);
    if (r.status !== 0) throw new Error(`docker inspect ${id} failed: ${r.stderr}`);
    return r.stdout.trim();
  }

  logTail(lines = 40): string {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no dockerd log)';
    }
  }

  /**
   * Removes everything this harness made: its containers, dockerd and the containerd and shims it
   * started, container processes left behind, mounts under its directory, the directory itself,
   * its parent cgroups, and the fixed paths dockerd created. Never throws.
   */
  async stop(): Promise<void> {
    const child = this.child;
    const running = child !== undefined && child.exitCode === null && child.signalCode === null;
    if (running) {
      try {
        const ids = this.docker(['ps', '-aq'], { timeoutMs: 10000 }).stdout.split('\n').filter(Boolean);
        if (ids.length > 0) this.docker(['rm', '-f', ...ids], { timeoutMs: 30000 });
      } catch {
        // best effort: dockerd may be wedged; the steps below still run
      }
    }
    if (running && child.pid !== undefined) {
      child.kill('SIGTERM'); // dockerd stops its containerd on the way out
      if (!(await within(this.exited!, 20000))) {
        child.kill('SIGKILL');
        await within(this.exited!, 5000);
      }
    }
    const leftovers = this.ownPids();
    for (const pid of leftovers) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    const deadline = Date.now() + 5000;
    while (leftovers.some((pid) => existsSync(`/proc/${pid}`)) && Date.now() < deadline) await sleep(50);

    unmountUnder(this.dir);
    try {
      rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      // leave it for inspection rather than fail the suite's teardown
    }
    this.removeCgroupParent();
    if (!this.existedBefore.get(TRUST_KEY)) {
      try {
        unlinkSync(TRUST_KEY);
      } catch {
        // not created
      }
    }
    for (const dir of FIXED_DIRS) {
      if (this.existedBefore.get(dir)) continue;
      try {
        rmdirSync(dir); // only if empty
      } catch {
        // not empty or not there
      }
    }
  }

  /**
   * Pids to kill after dockerd is gone, containers first: processes whose command line names this
   * harness's directory (containerd, shims, runtime calls), then the direct children of those shims
   * (container inits and exec'd processes, which a shim parents as a subreaper).
   */
  private ownPids(): number[] {
    const procs: { pid: number; ppid: number; argv: string[] }[] = [];
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        procs.push({ pid: Number(entry), ppid, argv });
      } catch {
        // exited meanwhile
      }
    }
    const mine = procs.filter((p) => p.pid !== process.pid && p.argv.some((a) => a === this.dir || a.includes(this.dir + '/')));
    const shims = new Set(mine.filter((p) => basename(p.argv[0] ?? '').startsWith('containerd-shim')).map((p) => p.pid));
    const mineSet = new Set(mine.map((p) => p.pid));
    const containerProcs = procs.filter((p) => shims.has(p.ppid) && !mineSet.has(p.pid)).map((p) => p.pid);
    return [...containerProcs, ...mine.map((p) => p.pid)];
  }

  /** rmdir's the parent cgroup in every hierarchy, deepest first; a cgroup with processes stays. */
  private removeCgroupParent(): void {
    const name = this.cgroupParent.replace(/^\/+/, '');
    const candidates = [join('/sys/fs/cgroup', name)];
    try {
      for (const h of readdirSync('/sys/fs/cgroup')) candidates.push(join('/sys/fs/cgroup', h, name));
    } catch {
      return;
    }
    const removeTree = (dir: string): void => {
      let entries: string[];
      try {
        if (!statSync(dir).isDirectory()) return;
        entries = readdirSync(dir);
      } catch {
        return;
      }
      for (const e of entries) {
        const sub = join(dir, e);
        try {
          if (statSync(sub).isDirectory()) removeTree(sub);
        } catch {
          // gone
        }
      }
      try {
        rmdirSync(dir);
      } catch {
        // still has processes, or not a cgroup we may remove
      }
    };
    for (const c of candidates) if (existsSync(c)) removeTree(c);
  }
}
