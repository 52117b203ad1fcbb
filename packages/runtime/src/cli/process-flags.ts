import * as fs from 'node:fs';
import { ConfigError } from '../errors';
import type { Process } from '../spec/types';
import { bool, multi, str, UsageError, type FlagSpec, type Parsed } from './args';

export const EXEC_FLAGS: FlagSpec[] = [
  { name: 'process', alias: 'p', type: 'string', usage: 'path to a process.json (runtime-spec process) instead of the command line' },
  { name: 'console-socket', type: 'string', usage: "path to an AF_UNIX socket that receives the master end of the process's pseudoterminal" },
  { name: 'cwd', type: 'string', usage: 'working directory of the process in the container' },
  { name: 'env', alias: 'e', type: 'multi', usage: 'set an environment variable (KEY=value); may be repeated' },
  { name: 'tty', alias: 't', type: 'bool', usage: 'give the process a pseudoterminal' },
  { name: 'user', alias: 'u', type: 'string', usage: 'UID (format: <uid>[:<gid>])' },
  { name: 'additional-gids', alias: 'g', type: 'multi', usage: 'an additional group id; may be repeated' },
  { name: 'process-label', type: 'string', usage: 'SELinux process label (not supported: ignored)' },
  { name: 'apparmor', type: 'string', usage: 'AppArmor profile (not supported: ignored)' },
  { name: 'no-new-privs', type: 'bool', usage: 'set no_new_privs for the process' },
  { name: 'cap', alias: 'c', type: 'multi', usage: "add a capability to the process's bounding, effective, permitted and ambient sets" },
  { name: 'detach', alias: 'd', type: 'bool', usage: 'do not wait for the process; return once it runs' },
  { name: 'pid-file', type: 'string', usage: 'write the process id to this file' },
  { name: 'preserve-fds', type: 'string', usage: 'pass N more file descriptors (3 .. 3+N-1) to the process (default: 0)' },
  { name: 'cgroup', type: 'multi', usage: 'run the process in an existing sub-cgroup: [<controller>:]<path> (may be repeated)' },
  { name: 'ignore-paused', type: 'bool', usage: 'allow exec into a paused container' },
];

/**
 * The process for `exec`: from --process (a runtime-spec process JSON, as containerd sends), or
 * from the command line on top of the container's own process, as runc builds it.
 */
export function execProcessFrom(p: Parsed, base: Process | undefined, command: string[]): Process {
  const file = str(p, 'process');
  if (file) {
    let parsed: Partial<Process>;
    try {
      parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<Process>;
    } catch (e) {
      throw new ConfigError(`exec: cannot read process file ${file}: ${(e as Error).message}`);
    }
    if (typeof parsed.cwd !== 'string' || parsed.cwd === '') throw new ConfigError('exec: process.json: Cwd property must not be empty');
    // As runc: a missing user is root; missing capabilities and rlimits are the container's own.
    return {
      ...parsed,
      cwd: parsed.cwd,
      user: parsed.user ?? { uid: 0, gid: 0 },
      capabilities: parsed.capabilities ?? base?.capabilities,
      rlimits: parsed.rlimits ?? base?.rlimits,
    };
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
  if (gids.length)
    proc.user.additionalGids = gids.map((g) => {
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
