import { containerStatus } from '@gantry/format';
import type { ContainerRecord } from './record';

/** The "Status" column of `docker ps`: moby's State.String, with go-units durations. */
export function statusText(state: ContainerRecord['State'], now: number = Date.now()): string {
  // moby keeps Running set while a restart is pending; our record clears it on exit
  return containerStatus({ ...state, Running: state.Running || state.Restarting }, now);
}
