import type { Hook } from './spec/types';
import { InitError } from './errors';

let childProcess: typeof import('node:child_process') | undefined;

/**
 * node:child_process, loaded on first use: with net and streams behind it, it is ~50 of Node's
 * built-in modules, a good part of the init stage's start-up, and most containers have no hook the
 * stage runs. A built-in never touches the filesystem, but the stage loads it before it enters the
 * container anyway when it will run hooks (see stage-main), so no hook depends on what the
 * container's seccomp profile allows for loading it.
 */
export function preloadHooks(): typeof import('node:child_process') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded lazily: the stage pays for every module it loads
  return (childProcess ??= require('node:child_process') as typeof import('node:child_process'));
}

export interface HookState {
  ociVersion: string;
  id: string;
  status: string;
  pid?: number;
  bundle: string;
  annotations?: Record<string, string>;
}

/** What runc (Go's os/exec) says for a signal that ended a hook. */
const SIGNAL_TEXT: Record<string, string> = {
  SIGSYS: 'bad system call',
  SIGKILL: 'killed',
  SIGTERM: 'terminated',
  SIGSEGV: 'segmentation fault',
  SIGABRT: 'aborted',
  SIGINT: 'interrupt',
  SIGHUP: 'hangup',
  SIGPIPE: 'broken pipe',
  SIGBUS: 'bus error',
};

/**
 * Run hooks in order with the container state on stdin, as the runtime spec requires; the first
 * failure throws, worded as runc words it ("error running hook #N: ...").
 */
export function runHooks(kind: string, hooks: readonly Hook[] | undefined, state: HookState, opts: { cwd?: string } = {}): void {
  (hooks ?? []).forEach((hook, index) => {
    const args = hook.args && hook.args.length > 0 ? hook.args : [hook.path];
    const res = preloadHooks().spawnSync(hook.path, args.slice(1), {
      argv0: args[0],
      input: JSON.stringify(state),
      env: Object.fromEntries((hook.env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])),
      timeout: hook.timeout ? hook.timeout * 1000 : undefined,
      stdio: ['pipe', 'pipe', 'pipe'],
      cwd: opts.cwd,
    });
    const where = `error running hook #${index} (${kind} ${hook.path})`;
    if (res.error) throw new InitError(`${where}: ${res.error.message}`);
    if (res.status !== 0) {
      const why = res.signal ? `signal: ${SIGNAL_TEXT[res.signal] ?? res.signal}` : `exit status ${res.status}`;
      const stderr = res.stderr?.toString().trim();
      throw new InitError(`${where}: ${why}${stderr ? `, stderr: ${stderr}` : ''}`);
    }
  });
}
