/**
 * Shared harness for the root integration tests of gantry-runtime: real kernel, real cgroups v1,
 * the CLI from dist/ (build with `npx tsc -b packages/runtime/tsconfig.json` first).
 *
 * One Harness per test file: it builds one busybox bundle (tools/make-busybox-bundle.sh) and one
 * --root state directory in a temp dir. Each test gets its own bundle directory holding only a
 * config.json (copied from the base one and edited as JSON) whose root.path points at the shared
 * rootfs. Every container id handed out by `h.id()` is force-deleted in afterEach, and the temp
 * dir is removed in afterAll. Every CLI call runs with a timeout, so nothing can hang the suite.
 */
import { spawn, spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CAPABILITIES, mountPointsUnder, readMountinfo } from '@gantry/linux';
import { describeIf, needFile, needRoot, unmet } from '@gantry/testkit';

const REPO = path.resolve(__dirname, '../../../..');
/**
 * The CLI under test: the bundle `gantry-runtime` runs (package.json bin; `npm run build` makes it),
 * which starts ~30% faster than tsc's dist/cli/main.js, a saving on each of the suite's thousands of
 * calls. GANTRY_IT_CLI points the suite at another build (main's, to see a test fail there; or
 * dist/cli/main.js).
 */
export const CLI = process.env.GANTRY_IT_CLI ?? path.join(REPO, 'packages/runtime/dist/bundle/main.js');
const MAKE_BUNDLE = path.join(REPO, 'tools/make-busybox-bundle.sh');
const CGROUP_ROOT = '/sys/fs/cgroup';
/** cgroup v1 hierarchies the runtime manages (the default cgroupsPath is /gantry/<id>). */
const CGROUP_CONTROLLERS = ['memory', 'pids', 'cpu', 'cpuacct', 'cpuset', 'freezer', 'devices', 'blkio'];

/** Why this suite cannot run here, or undefined. */
function skipReason(): string | undefined {
  return unmet(
    needRoot(),
    needFile('/bin/busybox', 'Debian package busybox-static; tools/install-deps.sh installs it'),
    needFile(CLI, 'run npm run build'),
    needFile(`${CGROUP_ROOT}/freezer/cgroup.procs`, 'the tests expect cgroup v1 hierarchies, as on the development hosts'),
  );
}

/** `describe`, or skipped with a warning when the host cannot run these tests (failed under CI=true). */
export function describeRoot(name: string, fn: () => void): void {
  describeIf(skipReason())(name, fn);
}

export interface RunResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Set when the call timed out or could not spawn. */
  error?: Error;
}

export interface CliOptions {
  input?: string | Buffer;
  timeoutMs?: number;
  /** Extra stdio entries after 0,1,2 (host fds to hand to the CLI as fd 3, 4, ...). */
  extraFds?: number[];
  /** Where the CLI's (and so the container's) stdout/stderr go: 'pipe' (default), 'ignore' or a file fd. */
  stdoutFd?: number | 'ignore';
  stderrFd?: number | 'ignore';
  cwd?: string;
  /** Extra environment variables for the CLI (on top of this process's). */
  env?: Record<string, string>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export { waitFor } from '@gantry/testkit';

export function readOr(file: string, fallback = ''): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

export function pidAlive(pid: number): boolean {
  if (!(pid > 0)) return false;
  const stat = readOr(`/proc/${pid}/stat`);
  if (!stat) return false;
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}

/** cgroup directories of a container with the default cgroupsPath that still exist. */
export function cgroupDirsOf(id: string): string[] {
  return CGROUP_CONTROLLERS.map((c) => path.join(CGROUP_ROOT, c, 'gantry', id)).filter((d) => fs.existsSync(d));
}

/** Mount points (host view) at or below `dir`. */
export function mountsUnder(dir: string): string[] {
  return mountPointsUnder(readMountinfo(), dir);
}

export class Harness {
  readonly tmp: string;
  readonly root: string;
  readonly baseBundle: string;
  readonly rootfs: string;
  private readonly baseConfig: Json;
  private readonly ids = new Set<string>();
  private readonly prefix: string;
  private seq = 0;

  /** Build the file's bundle and state root. Call from beforeAll (it runs the bundle tool once). */
  constructor(tag: string) {
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), `gantry-it-${tag}-`));
    this.root = path.join(this.tmp, 'state');
    this.baseBundle = path.join(this.tmp, 'base');
    this.prefix = `it-${tag}-${randomBytes(3).toString('hex')}`;
    const made = spawnSync('bash', [MAKE_BUNDLE, this.baseBundle, '--args', 'true'], { encoding: 'utf8', timeout: 60_000 });
    if (made.status !== 0) throw new Error(`make-busybox-bundle failed: ${made.stderr}`);
    this.rootfs = path.join(this.baseBundle, 'rootfs');
    this.baseConfig = JSON.parse(fs.readFileSync(path.join(this.baseBundle, 'config.json'), 'utf8'));
  }

  /** A fresh, unique container id, force-deleted by `cleanup()`. */
  id(name = 'c'): string {
    const id = `${this.prefix}-${name}-${++this.seq}`;
    this.ids.add(id);
    return id;
  }

  /** Track an id created some other way (so cleanup deletes it). */
  track(id: string): string {
    this.ids.add(id);
    return id;
  }

  /** A copy of the base config.json (root.path is the shared rootfs, absolute). */
  config(args: string[] = ['true']): Json {
    const c = JSON.parse(JSON.stringify(this.baseConfig));
    c.process.args = args;
    c.root.path = this.rootfs;
    return c;
  }

  /** A bundle directory with `config` as its config.json (or raw text). */
  bundle(config: Json, name = 'b'): string {
    // config is a spec object or raw text
    const dir = fs.mkdtempSync(path.join(this.tmp, `${name}-`));
    fs.writeFileSync(path.join(dir, 'config.json'), typeof config === 'string' ? config : JSON.stringify(config, null, 2));
    return dir;
  }

  /** A bundle running `args` with `edit` applied to the config. */
  bundleFor(args: string[], edit?: (c: Json) => void): string {
    const c = this.config(args);
    edit?.(c);
    return this.bundle(c);
  }

  /** A file in the temp dir. */
  file(name: string, content?: string): string {
    const p = path.join(this.tmp, name);
    if (content !== undefined) fs.writeFileSync(p, content);
    return p;
  }

  /** Run the CLI synchronously: `gantry-runtime --root <root> ...args`. */
  cli(args: string[], opts: CliOptions = {}): RunResult {
    return this.cliWithRoot(['--root', this.root, ...args], opts);
  }

  cliWithRoot(args: string[], opts: CliOptions = {}): RunResult {
    const stdio: SpawnSyncOptions['stdio'] = [
      opts.input !== undefined ? 'pipe' : 'ignore',
      opts.stdoutFd ?? 'pipe',
      opts.stderrFd ?? 'pipe',
      ...(opts.extraFds ?? []),
    ];
    const res = spawnSync(process.execPath, [CLI, ...args], {
      input: opts.input,
      stdio,
      encoding: 'utf8',
      timeout: opts.timeoutMs ?? 20_000,
      killSignal: 'SIGKILL',
      cwd: opts.cwd ?? this.tmp,
      env: opts.env ? { ...process.env, ...opts.env } : undefined,
    });
    return {
      status: res.status,
      signal: res.signal,
      stdout: (res.stdout as unknown as string | null) ?? '',
      stderr: (res.stderr as unknown as string | null) ?? '',
      error: res.error,
    };
  }

  /**
   * `cli` for many independent calls at once (`mapLimit`): the same call, spawned asynchronously,
   * with stdout and stderr piped. SIGKILL at the timeout.
   */
  cliAsync(args: string[], opts: Pick<CliOptions, 'timeoutMs'> = {}): Promise<RunResult> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [CLI, '--root', this.root, ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: this.tmp });
      let stdout = '';
      let stderr = '';
      let error: Error | undefined;
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const timer = setTimeout(() => {
        error = new Error(`timed out after ${opts.timeoutMs ?? 20_000} ms`);
        child.kill('SIGKILL');
      }, opts.timeoutMs ?? 20_000);
      child.on('error', (e) => (error = e));
      child.on('close', (status, signal) => {
        clearTimeout(timer);
        resolve({ status, signal, stdout, stderr, error });
      });
    });
  }

  /** Run the CLI and require exit status 0; returns stdout. */
  ok(args: string[], opts: CliOptions = {}): string {
    const r = this.cli(args, opts);
    if (r.status !== 0) {
      throw new Error(
        `gantry-runtime ${args.join(' ')} -> status ${r.status} signal ${r.signal}${r.error ? ` (${r.error.message})` : ''}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`,
      );
    }
    return r.stdout;
  }

  /**
   * `run -d` with the container's stdout/stderr going to a log file (a pipe would keep spawnSync
   * waiting for the container). Returns the log path.
   */
  runDetached(id: string, bundle: string, extra: string[] = [], env?: Record<string, string>): string {
    const log = path.join(this.tmp, `${id}.log`);
    const fd = fs.openSync(log, 'w');
    try {
      const r = this.cli(['run', '-d', ...extra, '-b', bundle, id], { stdoutFd: fd, stderrFd: fd, env });
      if (r.status !== 0) throw new Error(`run -d ${id} -> status ${r.status} ${r.error?.message ?? ''}: ${readOr(log)}`);
    } finally {
      fs.closeSync(fd);
    }
    return log;
  }

  /** `create` with the container's stdout/stderr going to a log file. Returns the log path. */
  createDetached(id: string, bundle: string, extra: string[] = [], env?: Record<string, string>): string {
    const log = path.join(this.tmp, `${id}.log`);
    const fd = fs.openSync(log, 'w');
    try {
      const r = this.cli(['create', ...extra, '-b', bundle, id], { stdoutFd: fd, stderrFd: fd, env });
      if (r.status !== 0) throw new Error(`create ${id} -> status ${r.status} ${r.error?.message ?? ''}: ${readOr(log)}`);
    } finally {
      fs.closeSync(fd);
    }
    return log;
  }

  state(id: string): Json {
    return JSON.parse(this.ok(['state', id]));
  }

  stateDir(id: string): string {
    return path.join(this.root, id);
  }

  /** Force-delete every container handed out; last resort: kill what is left in its cgroups. */
  cleanup(): void {
    for (const id of this.ids) {
      // no state directory and no cgroup: never created, or already deleted by the test (a CLI run
      // that says "does not exist" costs a Node start-up, ~38 of them after some tests)
      if (!fs.existsSync(this.stateDir(id)) && cgroupDirsOf(id).length === 0) continue;
      const r = this.cli(['delete', '-f', id], { timeoutMs: 20_000 });
      if (r.status !== 0 && !/does not exist/.test(r.stderr)) {
        console.warn(`cleanup: delete -f ${id} failed: ${r.stderr.trim() || r.error?.message}`);
      }
      this.reapLeftovers(id);
    }
    this.ids.clear();
  }

  /** Only processes in this test's own cgroups (ids are unique to this run) are touched. */
  private reapLeftovers(id: string): void {
    const dirs = cgroupDirsOf(id);
    if (dirs.length === 0) return;
    const freezer = path.join(CGROUP_ROOT, 'freezer', 'gantry', id);
    try {
      if (fs.existsSync(freezer)) fs.writeFileSync(path.join(freezer, 'freezer.state'), 'THAWED');
    } catch {
      // best effort
    }
    for (const d of dirs) {
      for (const pid of readOr(path.join(d, 'cgroup.procs')).split('\n').filter(Boolean).map(Number)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
    const end = Date.now() + 3000;
    for (const d of dirs) {
      for (;;) {
        try {
          fs.rmdirSync(d);
          break;
        } catch {
          if (Date.now() > end) break;
          spawnSync('sleep', ['0.05']);
        }
      }
    }
    fs.rmSync(this.stateDir(id), { recursive: true, force: true });
  }

  destroy(): void {
    this.cleanup();
    // Never follow into a mount that might still be there.
    if (mountsUnder(this.tmp).length === 0) fs.rmSync(this.tmp, { recursive: true, force: true });
  }
}

/** Per-file setup: one Harness, cleanup after each test, temp dir removal at the end. */
export function useHarness(tag: string): () => Harness {
  let h: Harness | undefined;
  beforeAll(() => {
    h = new Harness(tag);
  });
  afterEach(() => {
    h?.cleanup();
  });
  afterAll(() => {
    h?.destroy();
  });
  return () => {
    if (!h) throw new Error('harness not initialised (beforeAll failed?)');
    return h;
  };
}

/**
 * `fn` over `items` with at most `limit` calls in flight, results in the order of `items`. For
 * runtime calls that wait on the kernel as much as they compute (two cores: 2-3 at once).
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** A capability set as /proc/<pid>/status prints it (CapEff: 00000000a80425fb). */
export function capHex(names: string[]): string {
  let m = 0n;
  for (const n of names) m |= 1n << BigInt(CAPABILITIES[n]!);
  return m.toString(16).padStart(16, '0');
}

/** One field of a /proc/<pid>/status text, e.g. "CapEff". */
export function statusField(text: string, field: string): string | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${field}:`));
  return line?.slice(field.length + 1).trim();
}
