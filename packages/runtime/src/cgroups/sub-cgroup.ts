import * as path from 'node:path';
import { CgroupError } from './errors';

/**
 * Where `exec --cgroup` puts a process: controller name ('' for every controller) → a path
 * relative to the container's cgroup, as runc takes them ("[<controller>[,<controller>]:]<path>").
 */
export type SubCgroupPaths = ReadonlyMap<string, string>;

/** Parse runc's `--cgroup` values with runc's rules (one bare path at most, no repeated controller). */
export function parseSubCgroupArgs(args: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const arg of args) {
    const parts = arg.split(':');
    if (parts.length > 2) throw new CgroupError('INVALID_PATH', `invalid --cgroup argument: ${arg}`);
    if (parts.length === 1) {
      if (args.length !== 1) throw new CgroupError('INVALID_PATH', `invalid --cgroup argument: ${arg} (missing <controller>: prefix)`);
      out.set('', arg);
      continue;
    }
    for (const controller of parts[0]!.split(',')) {
      if (controller === '') throw new CgroupError('INVALID_PATH', `invalid --cgroup argument: ${arg} (empty <controller> prefix)`);
      if (out.has(controller)) throw new CgroupError('INVALID_PATH', `invalid --cgroup argument(s): controller ${controller} specified multiple times`);
      out.set(controller, parts[1]!);
    }
  }
  return out;
}

/** `base` with `sub` below it; anything that would leave `base` ("..") is refused. */
export function subCgroupDir(base: string, sub: string): string {
  const joined = path.posix.join(base, sub).replace(/\/+$/, '');
  if (joined !== base && !joined.startsWith(`${base}/`)) throw new CgroupError('INVALID_PATH', `bad --cgroup: ${sub} is not a sub cgroup path`);
  return joined;
}

/** The error runc gives for a sub-cgroup that does not exist (exec does not create it). */
export function missingSubCgroup(pid: number, dir: string): CgroupError {
  return new CgroupError('NOT_FOUND', `adding pid ${pid} to cgroups: open ${dir}/cgroup.procs: no such file or directory`, dir, 'ENOENT');
}
