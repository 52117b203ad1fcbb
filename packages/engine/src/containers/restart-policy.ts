import type { RestartPolicy } from '@gantry/engine-api';

/** Docker's restart back-off: 100 ms, doubling per restart, at most a minute. */
const FIRST_RESTART_DELAY_MS = 100;
const MAX_RESTART_DELAY_MS = 60_000;
/** A run at least this long starts the back-off over. */
const BACKOFF_RESET_AFTER_MS = 10_000;

/**
 * The delay before the next automatic restart, given the previous one (0: none yet) and how long
 * the process ran: a run of 10 s or more starts over at 100 ms, so a rare crash is not punished
 * for the crashes of an earlier bad spell.
 */
export function nextRestartDelay(previousMs: number, ranMs: number, maxMs = MAX_RESTART_DELAY_MS): number {
  if (previousMs <= 0 || ranMs >= BACKOFF_RESET_AFTER_MS) return FIRST_RESTART_DELAY_MS;
  return Math.min(previousMs * 2, maxMs);
}

export interface ExitFacts {
  exitCode: number;
  /** The user stopped or killed it (persisted across gantryd restarts). */
  manuallyStopped: boolean;
  /** Automatic restarts since the user last started it. */
  restartCount: number;
}

/**
 * Whether the policy restarts a container that just exited (dockerd's restart manager): `always`
 * even after a manual stop (the caller cancels the monitor on `docker stop`), `unless-stopped`
 * unless the user stopped it, `on-failure[:n]` on a non-zero exit while under n restarts.
 */
export function policyRestarts(p: RestartPolicy | undefined, f: ExitFacts): boolean {
  switch (p?.Name) {
    case 'always':
      return true;
    case 'unless-stopped':
      return !f.manuallyStopped;
    case 'on-failure':
      return f.exitCode !== 0 && (!p.MaximumRetryCount || f.restartCount < p.MaximumRetryCount);
    default:
      return false;
  }
}

/**
 * Whether gantryd, starting, starts a container that is not running: `always` ones always (even
 * when the user had stopped them, as dockerd does), `unless-stopped` ones unless the user stopped
 * them, `on-failure` ones that failed and were not stopped by the user and have retries left.
 */
export function restartsOnDaemonStart(p: RestartPolicy | undefined, f: ExitFacts & { hasRun: boolean }): boolean {
  if (!f.hasRun) return false;
  if (p?.Name === 'on-failure' && f.manuallyStopped) return false;
  return policyRestarts(p, f);
}
