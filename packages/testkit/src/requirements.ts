/**
 * What a test suite needs from the host (root, a tool, a built file, a kernel feature), shared by
 * every package's tests and e2e/.
 *
 * When something is missing, a developer's run skips the suite with a warning; a CI run
 * (CI=true, where tools/install-deps.sh has installed every tool) fails instead, so a missing tool
 * can never turn a suite green by skipping it.
 *
 *   const d = describeIf(needRoot(), needTool('skopeo'));
 *   d('image storage (root, skopeo)', () => { ... });
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';

/** Why a requirement is not met, or undefined when it is. */
export type Unmet = string | undefined;

export const isRoot = process.getuid?.() === 0;
const ci = process.env.CI === 'true';

/** Whether `cmd` is on PATH. */
export function haveTool(cmd: string): boolean {
  return spawnSync('sh', ['-c', 'command -v "$1"', 'sh', cmd], { stdio: 'ignore' }).status === 0;
}

export function needRoot(why = 'mounts, namespaces and cgroups need it'): Unmet {
  return isRoot ? undefined : `not running as root (${why})`;
}

/** A command on PATH, from Debian package `pkg`. */
export function needTool(cmd: string, pkg = cmd): Unmet {
  return haveTool(cmd) ? undefined : `${cmd} not found (Debian package ${pkg}; tools/install-deps.sh installs it)`;
}

/** A file that must exist; `how` says how to get it. */
export function needFile(file: string, how: string): Unmet {
  return fs.existsSync(file) ? undefined : `${file} missing (${how})`;
}

/** The reasons among `reqs` that are unmet, joined; undefined when all are met. */
export function unmet(...reqs: Unmet[]): string | undefined {
  const missing = reqs.filter((r): r is string => r !== undefined);
  return missing.length > 0 ? missing.join('; ') : undefined;
}

/** Under CI=true: one failing test in place of what was skipped. Elsewhere: a warning. */
function reportSkip(what: string, reason: string): void {
  if (ci) {
    test(`requirements of ${what}`, () => {
      throw new Error(`CI=true and ${what} cannot run: ${reason}`);
    });
  } else {
    console.warn(`SKIPPED ${what}: ${reason}`);
  }
}

/** `describe` when every requirement is met; else `describe.skip`, reported (see above). */
export function describeIf(...reqs: Unmet[]): jest.Describe {
  const reason = unmet(...reqs);
  if (reason === undefined) return describe;
  const skip = ((name: string, fn: jest.EmptyFunction) => {
    reportSkip(`"${name}"`, reason);
    describe.skip(name, fn);
  }) as jest.Describe;
  return skip;
}

/** `it` when every requirement is met; else `it.skip`, reported once per test (see above). */
export function itIf(...reqs: Unmet[]): jest.It {
  const reason = unmet(...reqs);
  if (reason === undefined) return it;
  const skip = ((name: string, fn?: jest.ProvidesCallback, timeout?: number) => {
    reportSkip(`"${name}"`, reason);
    it.skip(name, fn, timeout);
  }) as jest.It;
  return skip;
}
