/**
 * A gantryd started by a test on a temporary socket, data root and exec root (it runs its own
 * gantry-containerd there), with helpers to drive it through the real docker CLI and raw HTTP.
 * Everything it starts names its directory on the command line, so stop() can find and end
 * exactly those processes and unmount exactly those mounts.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import type * as http from 'node:http';
import { join } from 'node:path';
import { unixRequest } from './http';
import { bundleTool, repoRoot } from './paths';

export const GANTRYD = join(repoRoot, 'bin', 'gantryd');

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * The gantryd of this jest run for a suite that drives it only through its API (no restarts, no
 * special flags) and removes what it adds (its stop() checks that); outside a jest run that set up
 * the shared directory (a bench script, another runner) a gantryd of its own.
 */
export async function sharedGantryd(): Promise<GantrydHarness> {
  const base = process.env[SHARED_GANTRYD];
  if (base !== undefined) return GantrydHarness.shared(sharedDirOfThisWorker(base));
  const h = await GantrydHarness.start('gsh-');
  h.loadBusybox();
  return h;
}

/**
 * One shared gantryd per jest worker (suites of different workers run at the same time; each
 * suite's stop() compares its gantryd with what it found, so two suites must never share one at
 * once). The `.d` ends the name, so no worker's directory is a prefix of another's (`w1.d`,
 * `w10.d`): the harness finds its processes and mounts by their paths.
 */
function sharedDirOfThisWorker(base: string): string {
  const dir = join(base, `w${process.env.JEST_WORKER_ID ?? '1'}.d`);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** What a suite sharing a gantryd may add, to be removed again when it is done (see `sharedGantryd`). */
interface Inventory {
  containers: string[];
  networks: string[];
  volumes: string[];
  /** repository:tag of every tagged image */
  refs: string[];
  images: string[];
  /** entries of the harness directory (suites keep their scratch files there) */
  files: string[];
}

/** Env var naming a directory for cached busybox archives (set by the jest globalSetup). */
export const ARCHIVE_CACHE = 'GANTRY_E2E_ARCHIVE_CACHE';
/**
 * Env var naming the directory under which each jest worker's shared gantryd lives (set by the
 * jest globalSetup; see `sharedDirOfThisWorker`).
 */
export const SHARED_GANTRYD = 'GANTRY_E2E_SHARED_GANTRYD';

export class GantrydHarness {
  readonly sock: string;
  daemon?: ChildProcess;
  /** Set for a gantryd shared with other suites: what it held when this suite took it. */
  private baseline?: Inventory;

  private constructor(
    readonly dir: string,
    /** A command gantryd runs under (it execs gantryd), e.g. setpriv with a smaller bounding set. */
    private readonly wrapper: string[] = [],
    /** Variables added to gantryd's environment (its gantry-containerd inherits them). */
    private readonly daemonEnv: NodeJS.ProcessEnv = {},
  ) {
    this.sock = join(dir, 'g.sock');
  }

  /**
   * The gantryd in `dir` shared by the suites of one jest run, started (with busybox loaded) by the
   * first suite that asks for it; its `stop()` removes what this suite added instead of stopping it.
   */
  static async shared(dir: string): Promise<GantrydHarness> {
    const h = new GantrydHarness(dir);
    const pid = h.sharedPid();
    if (pid === undefined || !(await h.pings())) {
      await h.startDaemon();
      h.daemon!.unref(); // the jest globalTeardown stops it (stopShared)
      fs.writeFileSync(h.sharedPidPath, String(h.daemon!.pid));
      h.loadBusybox();
    }
    h.baseline = h.inventory();
    return h;
  }

  private get sharedPidPath(): string {
    return join(this.dir, 'shared.pid');
  }

  private sharedPid(): number | undefined {
    try {
      return Number(fs.readFileSync(this.sharedPidPath, 'utf8'));
    } catch {
      return undefined;
    }
  }

  private pings(): Promise<boolean> {
    return this.request('GET', '/_ping').then(
      (r) => r.status === 200,
      () => false,
    );
  }

  /** Stop every worker's shared gantryd under `base` (those a suite started) and delete the directories. */
  static async stopAllShared(base: string): Promise<void> {
    const dirs = fs.readdirSync(base).filter((e) => /^w\d+\.d$/.test(e));
    await Promise.all(dirs.map((d) => GantrydHarness.stopShared(join(base, d))));
    fs.rmSync(base, { recursive: true, force: true });
  }

  /** Stop the shared gantryd in `dir` (if a suite started it) and delete the directory. */
  private static async stopShared(dir: string): Promise<void> {
    const h = new GantrydHarness(dir);
    const pid = h.sharedPid();
    if (pid !== undefined) {
      for (const id of h.docker(['ps', '-aq'], undefined, 20000).stdout.split('\n').filter(Boolean)) h.docker(['rm', '-f', id], undefined, 20000);
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // gone
      }
      const deadline = Date.now() + 30000;
      while (isRunning(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    }
    h.reap();
  }

  /** Start gantryd in a fresh /tmp directory (short path: unix sockets are limited to 108 bytes). */
  static async start(prefix = 'gdx-', extraArgs: string[] = [], wrapper: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<GantrydHarness> {
    const h = new GantrydHarness(fs.mkdtempSync(join('/tmp', prefix)), wrapper, env);
    await h.startDaemon(extraArgs);
    return h;
  }

  get logPath(): string {
    return join(this.dir, 'gantryd.log');
  }

  /** The log of the gantry-containerd gantryd runs (it names each shim it starts: "shim started"). */
  get containerdLogPath(): string {
    return join(this.dir, 'run', 'containerd', 'containerd.log');
  }

  /** (Re)start the daemon on the same socket and roots. */
  async startDaemon(extraArgs: string[] = []): Promise<void> {
    fs.rmSync(this.sock, { force: true });
    const log = fs.openSync(this.logPath, 'a');
    const [cmd, ...pre] = [...this.wrapper, GANTRYD];
    this.daemon = spawn(
      cmd!,
      [...pre, '-H', `unix://${this.sock}`, '--data-root', join(this.dir, 'data'), '--exec-root', join(this.dir, 'run'), ...extraArgs],
      { stdio: ['ignore', log, log], env: { ...process.env, ...this.daemonEnv } },
    );
    fs.closeSync(log);
    // an upper bound only: at load 20+ on two cores gantryd and its gantry-containerd took over 30 s
    const deadline = Date.now() + 120000;
    for (;;) {
      if (fs.existsSync(this.sock) && (await this.pings())) return;
      const exited = this.daemon.exitCode ?? this.daemon.signalCode;
      if (Date.now() > deadline || exited !== null) {
        const why = exited !== null ? `exited (${exited})` : 'not answering /_ping after 120 s';
        throw new Error(`gantryd did not start: ${why}: ${this.logTail(40)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stop the daemon with a signal (SIGTERM: graceful; SIGKILL: crash) and wait for it to exit. */
  async stopDaemon(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const d = this.daemon;
    if (!d || d.exitCode !== null || d.signalCode !== null) return;
    const exited = new Promise((r) => d.once('exit', r));
    d.kill(signal);
    await exited;
  }

  logTail(lines = 15): string {
    try {
      return fs.readFileSync(this.logPath, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  env(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: `unix://${this.sock}`, DOCKER_CONFIG: join(this.dir, 'cfg'), DOCKER_CLI_HINTS: 'false' };
    // the gantry CLI reads GANTRY_HOST before DOCKER_HOST: a developer's own would send it elsewhere
    delete env.GANTRY_HOST;
    return env;
  }

  docker(args: string[], input?: string, timeout = 60000): CliResult {
    // SIGKILL at the timeout: `docker run` passes SIGTERM on to the container and keeps waiting
    const r = spawnSync('docker', args, { encoding: 'utf8', timeout, killSignal: 'SIGKILL', input, env: this.env() });
    return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  }

  /** docker, failing the test with stderr and the daemon's log when it exits non-zero. */
  ok(args: string[], input?: string): string {
    const r = this.docker(args, input);
    if (r.status !== 0) throw new Error(`docker ${args.join(' ')}: exit ${r.status}: ${r.stderr}\n${this.logTail()}`);
    return r.stdout;
  }

  /** A raw HTTP request to the API socket (its own connection; see unixRequest). */
  async request(method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<HttpResult> {
    const h: Record<string, string | number> = { ...headers };
    if (body !== undefined) {
      h['Content-Type'] ??= 'application/json';
      h['Content-Length'] = Buffer.byteLength(body);
    }
    const r = await unixRequest(this.sock, method, path, body, h);
    return { status: r.status, headers: r.headers, body: r.body.toString() };
  }

  /**
   * Make the offline busybox image as a docker-archive (tools/make-busybox-bundle.sh) and return its
   * path. Within a jest run it is made once per name and kept in the run's archive cache (the
   * archive is deterministic; nobody writes to it).
   */
  makeBusyboxArchive(name = 'busybox:latest'): string {
    const cache = process.env[ARCHIVE_CACHE];
    const out = join(cache ?? this.dir, `${name.replace(/[^a-z0-9]/gi, '_')}.tar`);
    if (cache !== undefined && fs.existsSync(out)) return out;
    const bundle = fs.mkdtempSync(join(cache ?? this.dir, 'b-'));
    // written aside and renamed into place: a suite in another jest worker may be reading `out`
    const part = join(bundle, 'archive.tar');
    const made = spawnSync('bash', [bundleTool, join(bundle, 'bundle'), '--args', 'sh', '--docker-archive', part, '--name', name], {
      encoding: 'utf8',
    });
    if (made.status !== 0) throw new Error(made.stderr);
    fs.renameSync(part, out);
    if (cache !== undefined) fs.rmSync(bundle, { recursive: true, force: true });
    return out;
  }

  /** `docker load` the offline busybox image. */
  loadBusybox(name = 'busybox:latest'): void {
    this.ok(['load', '-i', this.makeBusyboxArchive(name)]);
  }

  /**
   * Remove all containers, stop the daemon, end every process started under our directory, unmount,
   * delete. A shared gantryd is left running: only what this suite added is removed (`release`).
   */
  async stop(): Promise<void> {
    if (this.baseline) {
      this.release(this.baseline);
      return;
    }
    if (this.daemon && this.daemon.exitCode === null) {
      for (const id of this.docker(['ps', '-aq'], undefined, 20000).stdout.split('\n').filter(Boolean)) this.docker(['rm', '-f', id], undefined, 20000);
    }
    await this.stopDaemon('SIGTERM');
    this.reap();
  }

  private inventory(): Inventory {
    const list = (args: string[]) =>
      this.ok(args)
        .split('\n')
        .filter((l) => l !== '' && l !== '<none>:<none>')
        .sort();
    return {
      containers: list(['ps', '-aq', '--no-trunc']),
      networks: list(['network', 'ls', '-q', '--no-trunc']),
      volumes: list(['volume', 'ls', '-q']),
      refs: list(['images', '--format', '{{.Repository}}:{{.Tag}}']),
      images: [...new Set(list(['images', '-aq', '--no-trunc']))],
      files: fs.readdirSync(this.dir).sort(),
    };
  }

  /**
   * Back to `baseline` on a shared gantryd: remove the containers, networks, volumes, tags, images
   * and scratch files added since; load busybox again if a suite removed it. Throws if that fails,
   * so a suite that leaves something behind fails instead of the next one.
   */
  private release(baseline: Inventory): void {
    const added = (now: string[], then: string[]) => now.filter((x) => !then.includes(x));
    let now = this.inventory();
    for (const id of now.containers) this.docker(['rm', '-f', '-v', id], undefined, 20000);
    for (const id of added(now.networks, baseline.networks)) this.docker(['network', 'rm', id]);
    for (const v of added(now.volumes, baseline.volumes)) this.docker(['volume', 'rm', '-f', v]);
    for (const ref of added(now.refs, baseline.refs)) this.docker(['rmi', ref]);
    for (const id of added(this.inventory().images, baseline.images)) this.docker(['rmi', '-f', id]);
    for (const f of added(now.files, baseline.files)) {
      spawnSync('sh', ['-c', `grep -o " ${join(this.dir, f)}[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l`]);
      fs.rmSync(join(this.dir, f), { recursive: true, force: true });
    }
    if (baseline.refs.some((r) => !this.inventory().refs.includes(r))) this.loadBusybox();
    now = this.inventory();
    const left = (Object.keys(baseline) as (keyof Inventory)[]).filter((k) => JSON.stringify(now[k]) !== JSON.stringify(baseline[k]));
    if (left.length > 0) {
      throw new Error(
        `the shared gantryd is not back to where this suite found it: ${left.map((k) => `${k}: ${JSON.stringify(baseline[k])} -> ${JSON.stringify(now[k])}`).join('; ')}`,
      );
    }
  }

  /** End every process started under our directory (and the containers we made), unmount, delete. */
  private reap(): void {
    // container processes name neither our dir nor gantry: they are found by their cgroup (/…/<container id>)
    let ids: string[] = [];
    try {
      ids = fs.readdirSync(join(this.dir, 'data', 'containers')).filter((d) => /^[0-9a-f]{64}$/.test(d));
    } catch {
      // no containers made
    }
    for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      try {
        const cgroup = ids.length > 0 ? fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8') : '';
        const ours = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(this.dir) || ids.some((id) => cgroup.includes(id));
        if (ours) process.kill(Number(pid), 'SIGKILL');
      } catch {
        // gone
      }
    }
    spawnSync('sh', ['-c', `grep -o " ${this.dir}[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l`]);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A process that exists and is not a zombie. */
function isRunning(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]$/.test(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
  } catch {
    return false;
  }
}
