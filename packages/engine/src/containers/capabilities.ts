import { CONTAINER_DEFAULT_CAPABILITIES } from '@gantry/runtime';
import { errdefs } from '@gantry/linux';

/** Every capability Linux defines (as of 5.9), in bit order: what a privileged container gets. */
export const ALL_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
];

const KNOWN: ReadonlySet<string> = new Set(ALL_CAPABILITIES);

/** Docker's default set for an unprivileged container (bounding = effective = permitted): the runtime's one copy. */
export const DEFAULT_CAPABILITIES: readonly string[] = CONTAINER_DEFAULT_CAPABILITIES;

/**
 * CapAdd/CapDrop names as Docker reads them: case-insensitive, `CAP_` optional, `ALL` special.
 * Throws Error (not an errdefs kind) so the caller can prefix "invalid CapAdd: ".
 */
export function normalizeCapabilities(caps: readonly string[]): string[] {
  return caps.map((raw) => {
    const c = raw.toUpperCase();
    if (c === 'ALL') return c;
    const name = c.startsWith('CAP_') ? c : `CAP_${c}`;
    if (!KNOWN.has(name)) throw new Error(`unknown capability: "${name}"`);
    return name;
  });
}

/** The container's capability list: defaults minus CapDrop plus CapAdd, `ALL` in either, or all when privileged. */
export function containerCapabilities(capAdd: readonly string[] = [], capDrop: readonly string[] = [], privileged = false): string[] {
  if (privileged) return [...ALL_CAPABILITIES];
  if (capAdd.length === 0 && capDrop.length === 0) return [...DEFAULT_CAPABILITIES];
  let add: string[];
  let drop: string[];
  try {
    drop = normalizeCapabilities(capDrop);
    add = normalizeCapabilities(capAdd);
  } catch (e) {
    throw errdefs.invalidArgument((e as Error).message);
  }
  let caps: string[];
  if (add.includes('ALL')) caps = ALL_CAPABILITIES.filter((c) => !drop.includes(c));
  else if (drop.includes('ALL')) caps = [...add];
  else caps = [...DEFAULT_CAPABILITIES.filter((c) => !drop.includes(c)), ...add];
  // a name given twice (default + CapAdd) is one capability
  return [...new Set(caps)];
}
