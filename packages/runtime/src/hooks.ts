import { spawnSync } from 'node:child_process';
import type { Hook } from './spec/types';
import { InitError } from './errors';

export interface HookState {
  ociVersion: string;
  id: string;
  status: string;
  pid?: number;
  bundle: string;
  annotations?: Record<string, string>;
}

/** Run hooks in order with the container state on stdin, as the runtime spec requires; the first failure throws. */
export function runHooks(kind: string, hooks: readonly Hook[] | undefined, state: HookState, opts: { cwd?: string } = {}): void {
  for (const hook of hooks ?? []) {
    const args = hook.args && hook.args.length > 0 ? hook.args : [hook.path];
    const res = spawnSync(hook.path, args.slice(1), {
      argv0: args[0],
      input: JSON.stringify(state),
      env: Object.fromEntries((hook.env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])),
      timeout: hook.timeout ? hook.timeout * 1000 : undefined,
      stdio: ['pipe', 'pipe', 'pipe'],
      cwd: opts.cwd,
    });
    if (res.error) throw new InitError(`${kind} hook ${hook.path}: ${res.error.message}`);
    if (res.status !== 0) {
      const why = res.signal ? `killed by ${res.signal}` : `exit status ${res.status}`;
      const stderr = res.stderr?.toString().trim();
      throw new InitError(`${kind} hook ${hook.path} failed: ${why}${stderr ? `: ${stderr}` : ''}`);
    }
  }
}
