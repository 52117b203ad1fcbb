/**
 * systemd socket activation (`-H fd://`, `-H fd://<number|name>`), as sd_listen_fds(3) defines
 * it: the sockets are fds 3 … 3+LISTEN_FDS-1, LISTEN_PID says which process they are for, and
 * LISTEN_FDNAMES (colon-separated) names them after the .socket unit's FileDescriptorName= (the
 * unit's name by default).
 */
import { ListenerConfigError } from './listeners-error';

/** The first fd systemd passes (SD_LISTEN_FDS_START). */
const LISTEN_FDS_START = 3;

/** One socket systemd passed: its fd and its name ("unknown" when LISTEN_FDNAMES does not say). */
export interface ActivatedSocket {
  fd: number;
  name: string;
}

/**
 * The sockets systemd passed to this process, read once: the variables are removed from `env`
 * whatever they say, so that no child (gantry-containerd, iptables, a build step) believes the
 * sockets are its own. Sockets meant for another pid (a parent that forgot to unset them) are
 * not ours: none.
 */
export function takeActivatedSockets(env: NodeJS.ProcessEnv = process.env, pid: number = process.pid): ActivatedSocket[] {
  const listenPid = env.LISTEN_PID;
  const listenFds = env.LISTEN_FDS;
  const names = env.LISTEN_FDNAMES;
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
  if (listenPid === undefined || listenFds === undefined) return [];
  if (!/^\d+$/.test(listenPid) || Number(listenPid) !== pid) return [];
  if (!/^\d+$/.test(listenFds)) throw new ListenerConfigError(`invalid LISTEN_FDS=${listenFds} from the service manager`);
  const n = Number(listenFds);
  const nameList = names === undefined ? [] : names.split(':');
  const sockets: ActivatedSocket[] = [];
  for (let i = 0; i < n; i++) sockets.push({ fd: LISTEN_FDS_START + i, name: nameList[i] || 'unknown' });
  return sockets;
}

/**
 * The sockets one `-H fd://…` means: all of them for `fd://`, the one at that fd for a number,
 * those named so for a name. Nothing passed, or nothing matching, is an error that says why.
 */
export function selectActivated(sockets: readonly ActivatedSocket[], which: string): ActivatedSocket[] {
  if (sockets.length === 0) {
    throw new ListenerConfigError(
      `-H fd://${which}: no sockets passed by the service manager (LISTEN_FDS/LISTEN_PID unset or for another process); fd:// needs socket activation, e.g. gantryd.socket`,
    );
  }
  if (which === '' || which === '*') return [...sockets];
  if (/^\d+$/.test(which)) {
    const fd = Number(which);
    const found = sockets.filter((s) => s.fd === fd);
    if (found.length === 0) {
      throw new ListenerConfigError(`-H fd://${which}: fd ${fd} was not passed (the service manager passed fds ${sockets.map((s) => s.fd).join(', ')})`);
    }
    return found;
  }
  const found = sockets.filter((s) => s.name === which);
  if (found.length === 0) {
    throw new ListenerConfigError(`-H fd://${which}: no socket named ${which} was passed (names: ${[...new Set(sockets.map((s) => s.name))].join(', ')})`);
  }
  return found;
}
