import type { CgroupFs } from './fs';
import { CgroupError, errnoOf, toCgroupError } from './errors';
import { parsePids } from './parse';

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Block the thread for `ms`: cgroupfs waits are short and the managers are synchronous. */
export function sleepMs(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

/** Write one control file, turning errors into CgroupError naming the file and value. */
export function writeControl(fs: CgroupFs, file: string, value: string): void {
  try {
    fs.writeFile(file, value);
  } catch (err) {
    throw toCgroupError(err, `write ${JSON.stringify(value)} to ${file}`, file);
  }
}

export function readControl(fs: CgroupFs, file: string): string {
  try {
    return fs.readFile(file);
  } catch (err) {
    throw toCgroupError(err, `read ${file}`, file);
  }
}

/** Read a file that may legitimately be absent (older kernel, accounting off). */
export function readOptional(fs: CgroupFs, file: string): string | undefined {
  try {
    return fs.readFile(file);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT' || errnoOf(err) === 'ENODEV') return undefined;
    throw toCgroupError(err, `read ${file}`, file);
  }
}

/** Write a pid to cgroup.procs. EINVAL can mean the task is still TASK_NEW: retry briefly. */
export function writePid(fs: CgroupFs, dir: string, pid: number): void {
  if (!Number.isInteger(pid) || pid <= 0) throw new CgroupError('INVALID_RESOURCE', `invalid pid ${pid}`);
  const file = `${dir}/cgroup.procs`;
  for (let attempt = 0; ; attempt++) {
    try {
      fs.writeFile(file, String(pid));
      return;
    } catch (err) {
      if (errnoOf(err) !== 'EINVAL' || attempt >= 4) throw toCgroupError(err, `add pid ${pid} to ${dir}`, file);
      sleepMs(30);
    }
  }
}

/** Pids in `dir` and every descendant cgroup. */
export function collectPids(fs: CgroupFs, dir: string, into: Set<number>): void {
  const procs = readOptional(fs, `${dir}/cgroup.procs`);
  if (procs === undefined) return;
  for (const pid of parsePids(procs)) into.add(pid);
  for (const child of safeSubdirs(fs, dir)) collectPids(fs, `${dir}/${child}`, into);
}

function safeSubdirs(fs: CgroupFs, dir: string): string[] {
  try {
    return fs.subdirs(dir);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return [];
    throw toCgroupError(err, `list ${dir}`, dir);
  }
}

/**
 * Remove the cgroup at `dir` and its descendants, deepest first. Refuses any directory that is not
 * on a cgroup file system; already-gone directories are fine; EBUSY (tasks still exiting) is retried.
 */
export function removeCgroupTree(fs: CgroupFs, dir: string): void {
  if (!fs.exists(dir)) return;
  if (!fs.isCgroupDir(dir)) throw new CgroupError('INVALID_PATH', `refusing to remove ${dir}: not a cgroup directory`, dir);
  for (const child of safeSubdirs(fs, dir)) removeCgroupTree(fs, `${dir}/${child}`);
  for (let attempt = 0; ; attempt++) {
    try {
      fs.rmdir(dir);
      return;
    } catch (err) {
      const errno = errnoOf(err);
      if (errno === 'ENOENT') return;
      if (errno !== 'EBUSY' || attempt >= 10) throw toCgroupError(err, `remove cgroup ${dir}`, dir);
      sleepMs(10 * (attempt + 1));
    }
  }
}
