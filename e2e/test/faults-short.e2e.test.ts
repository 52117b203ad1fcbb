/**
 * The short fault test (the full one is `npm run faults`): 5 containers run and some removed through
 * the docker CLI while gantry-containerd and a shim are killed -9 at points the test controls (right
 * after a request is sent, after a reply); gantryd restarts gantry-containerd. Then docker ps -a, ctr
 * on gantry-containerd's socket and /proc agree on every container, no docker request failed, and
 * nothing is left afterwards.
 */
import { runFaults, type FaultResult, type Kill } from '../src/soak';

describe('faults (short)', () => {
  let r: FaultResult;

  beforeAll(async () => {
    r = await runFaults({ count: 5, kills: 3, seed: 0, parallel: 2, schedule: SCHEDULE });
  }, 240000);

  it('the kills happened', () => {
    expect(
      r.killed
        .filter((k) => k.note === 'killed')
        .map((k) => k.kill.target)
        .sort(),
    ).toEqual(['containerd', 'containerd', 'shim']);
    expect(r.containerdRestarts).toBeGreaterThanOrEqual(1);
  });

  it('no docker request failed: gantryd waited for the restarted gantry-containerd and redid what the kill cut', () => {
    // before: `14 UNAVAILABLE: Connection dropped` / `No connection established` for requests made
    // during and after a restart
    expect(r.failures).toEqual([]);
  });

  it('docker, ctr and /proc agree on every container', () => {
    expect(r.disagreements).toEqual([]);
    // the containers never removed are either running (fully) or stopped; the removed ones are gone
    expect(r.views.length).toBeGreaterThan(0);
  });

  it('leaves nothing behind', () => {
    expect(r.leaks).toEqual([]);
  });
});

/** A fixed schedule with both targets at each kind of point (the seeded random one is `npm run faults`). */
const SCHEDULE: Kill[] = [
  { index: 0, point: 'run-replied', target: 'shim' },
  { index: 1, point: 'rm-sent', target: 'containerd' },
  { index: 3, point: 'run-sent', target: 'containerd' },
];
