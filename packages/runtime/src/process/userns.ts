/**
 * User namespaces (OCI `linux.namespaces` "user", `linux.uidMappings`/`gidMappings`).
 *
 * The kernel refuses unshare(CLONE_NEWUSER) and setns() into a user namespace to a multi-threaded
 * process, and Node always is one (runtime and stages alike). So single-threaded util-linux tools
 * take those two steps, and Node only ever starts inside the namespace:
 *
 * 1. A **holder** (`unshare --user -- sh -c 'echo ready; read x'`) makes the user namespace and
 *    prints a line once it is in it.
 * 2. We, root in the parent user namespace, write its `uid_map` and `gid_map` (setgroups stays
 *    "allow", as with runc run by root: the container may call setgroups).
 * 3. The stage is spawned through `nsenter --user=/proc/<holder>/ns/user --` (see `trampolineArgv`),
 *    which joins the user namespace and becomes uid and gid 0 there (nsenter's default for --user);
 *    for a new pid namespace, `unshare --pid` then makes it, owned by the user namespace (the
 *    kernel lets no one setns into a pid namespace before its pid 1 exists, so we cannot place the
 *    stage there as without a user namespace), and `setsid --fork` forks the stage into it. The
 *    sealed node then starts as pid 1 with every capability of the user namespace and none of the
 *    host's, and the namespaces it unshares next (mount, network, ...) are owned by the user
 *    namespace, so it may mount /proc, sysfs and the rest. Being a grandchild, it reports its pid
 *    (as /proc/self of the host's procfs names it) before anything else.
 * 4. Once the stage is ready, the holder is killed; the namespace lives on with the stage.
 *
 * `exec` needs no holder: its stage goes through the same `nsenter` with the init's user namespace.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import type { Sys } from '@gantry/linux';
import { ConfigError, InitError } from '../errors';
import type { IdMapping, Spec } from '../spec/types';

export type UserNamespacePlan = { kind: 'none' } | { kind: 'new'; uidMappings: IdMapping[]; gidMappings: IdMapping[] } | { kind: 'join'; path: string };

/** The config's user namespace, checked as runc does (a new one needs both mappings). */
export function userNamespaceOf(spec: Spec): UserNamespacePlan {
  const ns = spec.linux?.namespaces?.find((n) => n.type === 'user');
  if (!ns) return { kind: 'none' };
  if (ns.path) return { kind: 'join', path: ns.path };
  const uidMappings = spec.linux?.uidMappings ?? [];
  const gidMappings = spec.linux?.gidMappings ?? [];
  if (uidMappings.length === 0) throw new ConfigError('user namespaces enabled, but no uid mappings found');
  if (gidMappings.length === 0) throw new ConfigError('user namespaces enabled, but no gid mappings found');
  for (const m of [...uidMappings, ...gidMappings]) {
    if (![m.containerID, m.hostID, m.size].every((n) => Number.isInteger(n) && n >= 0) || m.size === 0) {
      throw new ConfigError(`invalid id mapping ${JSON.stringify(m)}`);
    }
  }
  return { kind: 'new', uidMappings, gidMappings };
}

/** /proc/<pid>/uid_map text: one "inside outside count" line per mapping, written in one write(2). */
export function idMapText(mappings: readonly IdMapping[]): string {
  return mappings.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join('');
}

/** The host id that `id` inside the namespace maps to (undefined when unmapped). */
export function hostIdOf(mappings: readonly IdMapping[] | undefined, id: number): number | undefined {
  for (const m of mappings ?? []) if (id >= m.containerID && id < m.containerID + m.size) return m.hostID + (id - m.containerID);
  return undefined;
}

/** util-linux's tools, by absolute path where they are (a shim's PATH can be minimal). */
function utilLinux(name: 'unshare' | 'nsenter' | 'setsid'): string {
  for (const dir of ['/usr/bin', '/bin', '/usr/sbin', '/sbin']) {
    if (fs.existsSync(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  return name;
}

/** The holder: in the user namespace once it printed its line; it waits on stdin and forks nothing. */
const HOLD = ['/bin/sh', '-c', 'echo ready; read x'];

/** argv of the holder that makes a new user namespace. */
function holderArgv(): string[] {
  return [utilLinux('unshare'), '--user', '--', ...HOLD];
}

/**
 * argv prefix that starts the stage (`/proc/self/fd/N stage-main.js` follows) in the user
 * namespace at `userPath`: nsenter joins it and becomes root there (its default for --user). With
 * `newPid`, unshare then makes the pid namespace, owned by the user namespace, and `setsid --fork`
 * forks the stage into it as pid 1 and exits: the stage is then a grandchild, reparented to the
 * nearest child subreaper (runc's nsexec forks its last stage the same way, with CLONE_PARENT).
 */
export function trampolineArgv(userPath: string, newPid: boolean): string[] {
  return [utilLinux('nsenter'), `--user=${userPath}`, '--', ...(newPid ? [utilLinux('unshare'), '--pid', '--', utilLinux('setsid'), '--fork', '--'] : [])];
}

export interface Holder {
  pid: number;
  /** Resolves once the holder is in its namespace; rejects if it ends first. */
  ready: Promise<void>;
  kill(): void;
}

export type HolderSpawner = (argv: string[]) => Holder;

export interface PreparedUserNamespace {
  /** The user namespace the stage's nsenter joins. */
  userPath: string;
  /** Ends the holder (once the stage is in the namespace, or on failure). */
  release(): void;
}

/**
 * Steps 1 and 2 above: the user namespace made and mapped before any stage exists (an existing
 * one is used as it is). undefined when the config has no user namespace.
 */
export async function prepareUserNamespace(sys: Sys, spawnHolder: HolderSpawner, plan: UserNamespacePlan): Promise<PreparedUserNamespace | undefined> {
  if (plan.kind === 'none') return undefined;
  if (plan.kind === 'join') return { userPath: plan.path, release: () => undefined };
  const holder = spawnHolder(holderArgv());
  try {
    await holder.ready;
    // uid_map first, as runc does
    writeMap(sys, holder.pid, 'uid_map', plan.uidMappings);
    writeMap(sys, holder.pid, 'gid_map', plan.gidMappings);
  } catch (e) {
    holder.kill();
    throw e;
  }
  return { userPath: `/proc/${holder.pid}/ns/user`, release: () => holder.kill() };
}

function writeMap(sys: Sys, pid: number, file: 'uid_map' | 'gid_map', mappings: readonly IdMapping[]): void {
  try {
    sys.writeFile(`/proc/${pid}/${file}`, idMapText(mappings));
  } catch (e) {
    throw new InitError(`writing ${file} of the user namespace: ${(e as Error).message}`);
  }
}

/** The real holder: a child process whose stdout line says it is ready. */
export function spawnHolder(argv: string[]): Holder {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('error', (e) => reject(new InitError(`cannot make the user namespace with ${argv[0]}: ${e.message}`)));
    child.once('exit', (code, signal) =>
      reject(new InitError(`cannot make the user namespace: ${argv[0]} ended (${signal ?? code})${stderr ? `: ${stderr.trim()}` : ''}`)),
    );
  });
  // ready is awaited by the caller; a late rejection (the holder killed after use) is expected
  ready.catch(() => undefined);
  return {
    pid: child.pid ?? -1,
    ready: child.pid === undefined ? Promise.reject(new InitError(`cannot start ${argv[0]}`)) : ready,
    kill: () => {
      child.stdin!.destroy();
      child.kill('SIGKILL');
    },
  };
}
