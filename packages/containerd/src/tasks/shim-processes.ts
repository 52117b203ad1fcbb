import * as fs from 'node:fs';
import * as path from 'node:path';

/** A gantry-shim process of one daemon state dir, as /proc shows it. */
export interface ShimProcess {
  pid: number;
  /** started with --warm (a spare; it may have been handed a task since) */
  warm: boolean;
  /**
   * The task bundle it serves, when it names one: `--state-dir` of a cold shim, the working
   * directory of a warm one that took its task (it moves into the bundle); undefined for a spare
   * still waiting for one.
   */
  bundle?: string;
  /** its command line, spaces between arguments (for logs) */
  cmdline: string;
  /**
   * Its parent is another live gantry-containerd of this state dir (one still shutting down): the
   * shim is that daemon's, not an orphan. A daemon's shims are its children until it dies.
   */
  parentDaemon: boolean;
}

/** The value of `flag` in `argv` (`--flag value` or `--flag=value`). */
function flagValue(argv: string[], flag: string): string | undefined {
  const i = argv.indexOf(flag);
  if (i >= 0) return argv[i + 1];
  return argv.find((a) => a.startsWith(`${flag}=`))?.slice(flag.length + 1);
}

/**
 * The gantry-shim processes started for the daemon whose state dir is `state`: a spare names it as
 * `--pool <state>/`, a task's shim has its bundle under `<state>/tasks/` and its runtime root under
 * `<state>/runtime/`. Zombies and processes gone meanwhile are left out.
 */
export function findShimProcesses(state: string): ShimProcess[] {
  const pool = path.resolve(state);
  const tasks = `${path.join(pool, 'tasks')}/`;
  const runtime = `${path.join(pool, 'runtime')}/`;
  // a working directory reads with symbolic links resolved
  const realTasks = `${realpath(path.join(pool, 'tasks'))}/`;
  const out: ShimProcess[] = [];
  for (const entry of safeReaddir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    let argv: string[];
    let ppid: number;
    try {
      argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z') continue;
      ppid = Number(fields[1]);
    } catch {
      continue;
    }
    if (!argv.includes('serve')) continue;
    const cmdline = argv.filter(Boolean).join(' ');
    const parentDaemon = ppid !== process.pid && daemonOf(ppid, pool);
    if (argv.includes('--warm')) {
      const p = flagValue(argv, '--pool');
      if (p === undefined || path.resolve(p) !== pool) continue;
      const cwd = safeReadlink(`/proc/${pid}/cwd`);
      const bundle = cwd?.startsWith(realTasks) ? path.join(tasks, cwd.slice(realTasks.length)) : undefined;
      out.push({ pid, warm: true, ...(bundle ? { bundle } : {}), cmdline, parentDaemon });
      continue;
    }
    const bundle = flagValue(argv, '--state-dir');
    const root = flagValue(argv, '--runtime-root');
    if (bundle === undefined || root === undefined) continue;
    if (path.resolve(bundle).startsWith(tasks) && path.resolve(root).startsWith(runtime))
      out.push({ pid, warm: false, bundle: path.resolve(bundle), cmdline, parentDaemon });
  }
  return out;
}

/** Whether process `pid` runs with `--state <state>` (a gantry-containerd of that state dir). */
function daemonOf(pid: number, state: string): boolean {
  try {
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const v = flagValue(argv, '--state');
    return v !== undefined && path.resolve(v) === state;
  } catch {
    return false;
  }
}

function isZombie(pid: number): boolean {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
}

/** Whether `pid` is gone (or a zombie waiting for its reaper). */
export function processGone(pid: number): boolean {
  try {
    return isZombie(pid);
  } catch {
    return true;
  }
}

/** A directory's entries, or none when it cannot be read (gone, or never made). */
export function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

function realpath(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return p;
  }
}

function safeReadlink(p: string): string | undefined {
  try {
    return fs.readlinkSync(p);
  } catch {
    return undefined;
  }
}
