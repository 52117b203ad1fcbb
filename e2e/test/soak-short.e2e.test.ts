/**
 * The short leak soak (the full one is `npm run soak`): 30 containers through the docker CLI, 10 at
 * a time, created, started, stopped and removed — a third on a user network with a published port,
 * a third with a named volume, a third plain — and then no mount, cgroup, veth, netns, iptables
 * rule, IPAM lease, shim, container process or fd of the daemons is left compared with before.
 */
import { runSoak, type SoakResult } from '../src/soak';

describe('leak soak (short)', () => {
  let r: SoakResult;

  beforeAll(async () => {
    r = await runSoak({ count: 30, parallel: 10, warmup: 10 });
  }, 240000);

  it('every container went through create, start, stop and rm', () => {
    expect(r.failures).toEqual([]);
    // while they ran, the snapshots saw nothing of them between phases either (all removed)
    expect(r.snapshots.map((s) => s.label)).toEqual(['before', 'after 10', 'end']);
  });

  it('leaves nothing behind', () => {
    const [before, , end] = r.snapshots;
    expect(r.leaks).toEqual([]);
    expect(end!.mounts).toEqual(before!.mounts);
    expect(end!.netns).toEqual([]);
    expect(end!.leases).toEqual([]);
    expect(end!.shims).toEqual([]);
    expect(end!.containerProcs).toEqual([]);
  });

  it('network rm takes the user network bridge and its rules', () => {
    expect(r.networkLeaks).toEqual([]);
  });
});
