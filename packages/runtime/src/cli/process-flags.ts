import * as fs from 'node:fs';
import { ConfigError } from '../errors';
import type { Process } from '../spec/types';
import { bool, multi, str, UsageError, type FlagSpec, type Parsed } from './args';

export const EXEC_FLAGS: FlagSpec[] = [
  { name: 'process', alias: 'p', type: 'string' },
  { name: 'console-socket', type: 'string' },
  { name: 'cwd', type: 'string' },
  { name: 'env', alias: 'e', type: 'multi' },
  { name: 'tty', alias: 't', type: 'bool' },
  { name: 'user', alias: 'u', type: 'string' },
  { name: 'additional-gids', alias: 'g', type: 'multi' },
  { name: 'process-label', type: 'string' },
  { name: 'apparmor', type: 'string' },
  { name: 'no-new-privs', type: 'bool' },
  { name: 'cap', alias: 'c', type: 'multi' },
  { name: 'detach', alias: 'd', type: 'bool' },
  { name: 'pid-file', type: 'string' },
  { name: 'preserve-fds', type: 'string' },
  { name: 'cgroup', type: 'multi' },
  { name: 'ignore-paused', type: 'bool' },
];

/**
 * The process for `exec`: from --process (a runtime-spec process JSON, as containerd sends), or
 * from the command line on top of the container's own process, as runc builds it.
 */
export function execProcessFrom(p: Parsed, base: Process | undefined, command: string[]): Process {
  const file = str(p, 'process');
  if (file) {
    let parsed: Process;
    try {
      parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as Process;
    } catch (e) {
      throw new ConfigError(`exec: cannot read process file ${file}: ${(e as Error).message}`);
    }
    return parsed;
  }
  if (command.length === 0) throw new UsageError('exec: a command is required (or --process)');
  const proc: Process = {
    ...(base ?? { cwd: '/', user: { uid: 0, gid: 0 } }),
    args: command,
    terminal: bool(p, 'tty'),
    env: [...(base?.env ?? []), ...multi(p, 'env')],
    cwd: str(p, 'cwd') ?? base?.cwd ?? '/',
    user: { ...(base?.user ?? { uid: 0, gid: 0 }) },
  };
  delete proc.consoleSize;
  const user = str(p, 'user');
  if (user) {
    const m = /^(\d+)(?::(\d+))?$/.exec(user);
    if (!m) throw new UsageError(`exec: --user must be uid[:gid], got ${JSON.stringify(user)}`);
    proc.user = { uid: Number(m[1]), gid: m[2] !== undefined ? Number(m[2]) : 0 };
  }
  const gids = multi(p, 'additional-gids');
  if (gids.length) proc.user.additionalGids = gids.map((g) => {
    if (!/^\d+$/.test(g)) throw new UsageError(`exec: invalid additional gid ${g}`);
    return Number(g);
  });
  if (bool(p, 'no-new-privs')) proc.noNewPrivileges = true;
  const caps = multi(p, 'cap');
  if (caps.length) {
    const c = { ...(proc.capabilities ?? {}) };
    for (const set of ['bounding', 'effective', 'permitted', 'ambient'] as const) c[set] = [...new Set([...(c[set] ?? []), ...caps])];
    proc.capabilities = c;
  }
  return proc;
}
