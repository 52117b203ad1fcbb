import { execFileSync } from 'node:child_process';

/** Whether `cmd` is on PATH. */
export function have(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * `describe`, or `describe.skip` with a warning when a tool is missing. Under CI (CI=true, where
 * tools/install-deps.sh installs it) a missing tool fails the suite instead of skipping it.
 */
export function describeIfTool(tool: string, pkg: string): jest.Describe {
  if (have(tool)) return describe;
  const msg = `${tool} not found (Debian package ${pkg}; tools/install-deps.sh installs it)`;
  if (process.env.CI === 'true') {
    test(`${tool} is installed`, () => {
      throw new Error(msg);
    });
  } else {
    console.warn(`SKIPPED: ${msg}`);
  }
  return describe.skip;
}
