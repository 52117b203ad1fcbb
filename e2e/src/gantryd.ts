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

export class GantrydHarness {
  readonly sock: string;
  daemon?: ChildProcess;

  private constructor(
    readonly dir: string,
    /** A command gantryd runs under (it execs gantryd), e.g. setpriv with a smaller bounding set. */
    private readonly wrapper: string[] = [],
  ) {
    this.sock = join(dir, 'g.sock');
  }

  /** Start gantryd in a fresh /tmp directory (short path: unix sockets are limited to 108 bytes). */
  static async start(prefix = 'gdx-', extraArgs: string[] = [], wrapper: string[] = []): Promise<GantrydHarness> {
    const h = new GantrydHarness(fs.mkdtempSync(join('/tmp', prefix)), wrapper);
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
      { stdio: ['ignore', log, log] },
    );
    fs.closeSync(log);
    const deadline = Date.now() + 30000;
    for (;;) {
      if (
        fs.existsSync(this.sock) &&
        (await this.request('GET', '/_ping').then(
          (r) => r.status === 200,
          () => false,
        ))
      )
        return;
      if (Date.now() > deadline || this.daemon.exitCode !== null) throw new Error(`gantryd did not start: ${this.logTail(40)}`);
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
    return { ...process.env, DOCKER_HOST: `unix://${this.sock}`, DOCKER_CONFIG: join(this.dir, 'cfg'), DOCKER_CLI_HINTS: 'false' };
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

  /** Make the offline busybox image as a docker-archive (tools/make-busybox-bundle.sh) and return its path. */
  makeBusyboxArchive(name = 'busybox:latest'): string {
    const out = join(this.dir, `${name.replace(/[^a-z0-9]/gi, '_')}.tar`);
    const made = spawnSync('bash', [bundleTool, join(this.dir, `b-${Date.now()}`), '--args', 'sh', '--docker-archive', out, '--name', name], {
      encoding: 'utf8',
    });
    if (made.status !== 0) throw new Error(made.stderr);
    return out;
  }

  /** `docker load` the offline busybox image. */
  loadBusybox(name = 'busybox:latest'): void {
    this.ok(['load', '-i', this.makeBusyboxArchive(name)]);
  }

  /** Remove all containers, stop the daemon, end every process started under our directory, unmount, delete. */
  async stop(): Promise<void> {
    if (this.daemon && this.daemon.exitCode === null) {
      for (const id of this.docker(['ps', '-aq'], undefined, 20000).stdout.split('\n').filter(Boolean)) this.docker(['rm', '-f', id], undefined, 20000);
    }
    await this.stopDaemon('SIGTERM');
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
