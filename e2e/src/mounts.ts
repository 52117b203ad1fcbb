/** Mount clean-up for the daemons the e2e suites start: the mountinfo parsing is @gantry/linux's. */
import { spawnSync } from 'node:child_process';
import { mountPointsUnder, readMountinfo } from '@gantry/linux';

/** Lazy-unmounts every mount point at or under `dir`, deepest first. */
export function unmountUnder(dir: string): void {
  for (const point of mountPointsUnder(readMountinfo(), dir)) spawnSync('umount', ['-l', point], { stdio: 'ignore' });
}
