/**
 * kill -9 of gantry-containerd inside a shim's start-up, at points the test chooses (@gantry/testkit's freezeAt):
 * the restarted daemon must stop or adopt every shim the dead one started, so that none is left
 * running after its container is gone (the fault test found one 30 s after every container was
 * removed). Each case checks the shim's process right after the restarted daemon serves, then runs
 * the task again and removes it, and expects no shim of this daemon left but its idle spare.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { containers, tasks } from '@gantry/api';
import { describeIf, freezeAt, needRoot } from '@gantry/testkit';
import { SPEC_TYPE } from '../src/services/tasks';
import { findShimProcesses, processGone } from '../src/tasks/shim-processes';
import { shimGate } from './shim-gate';
import { busyboxSpec, call, TestDaemon, waitFor } from './helpers';

const d = describeIf(needRoot());
const NS = 'test';

d('gantry-containerd: shims of a daemon killed while starting them (root)', () => {
  let daemon: TestDaemon;

  beforeEach(() => {
    daemon = new TestDaemon();
  });

  afterEach(async () => {
    await daemon.stop();
  });

  const state = () => path.join(daemon.dir, 'state');
  const bundle = (id: string) => path.join(state(), 'tasks', NS, id);

  async function container(id: string): Promise<void> {
    const spec = busyboxSpec(daemon.dir, ['sleep', '300']);
    await call(
      daemon.containers,
      daemon.containers.create,
      {
        container: containers.Container.fromPartial({
          id,
          runtime: { name: 'io.containerd.gantry.v1' },
          spec: { typeUrl: SPEC_TYPE, value: Buffer.from(JSON.stringify(spec)) },
        }),
      },
      NS,
    );
  }

  const createTask = (id: string) => call(daemon.tasks, daemon.tasks.create, tasks.CreateTaskRequest.fromPartial({ containerId: id }), NS);

  /** A task cut by the kill runs again and goes away: what gantryd does after a restart. */
  async function runAgainAndRemove(id: string): Promise<void> {
    // the cut Create may have left a task (or a shim holding none): Delete clears both
    await call(daemon.tasks, daemon.tasks.delete, { containerId: id }, NS).catch(() => undefined);
    await createTask(id);
    await call(daemon.tasks, daemon.tasks.start, { containerId: id, execId: '' }, NS);
    await call(daemon.tasks, daemon.tasks.kill, tasks.KillRequest.fromPartial({ containerId: id, signal: 9 }), NS);
    await call(daemon.tasks, daemon.tasks.wait, { containerId: id, execId: '' }, NS);
    await call(daemon.tasks, daemon.tasks.delete, { containerId: id }, NS);
    await call(daemon.containers, daemon.containers.delete, { id }, NS);
  }

  /** Shims of this daemon other than an idle spare (one waiting for its task, named by no bundle). */
  const busyShims = () => findShimProcesses(state()).filter((p) => !p.warm || p.bundle !== undefined);

  /** The daemon frozen at `point` by the create of task `id` (which then fails: the daemon died under it). */
  async function killDuringCreate(id: string, frozen: () => boolean): Promise<void> {
    const creating = createTask(id).catch((e: unknown) => e);
    await waitFor('the daemon frozen at the point', frozen);
    await daemon.crash();
    await creating;
  }

  it('a spare handed its task just before the kill (its bundle did not name it yet) is stopped at restart', async () => {
    const freeze = freezeAt(daemon.dir, { call: 'fs.renameSync', arg: `/tasks/${NS}/o2/address` });
    await daemon.start(freeze);
    await container('o1');
    await container('o2');
    await createTask('o1');
    await waitFor('a spare shim', () => findShimProcesses(state()).some((p) => p.warm && !p.bundle));
    const spare = findShimProcesses(state()).find((p) => p.warm && !p.bundle)!.pid;
    await killDuringCreate('o2', freeze.frozen);
    // the spare read its task before the daemon died, and serves it: nobody knows it but its bundle's log
    await waitFor('the spare serving o2', () => readOr(path.join(bundle('o2'), 'shim.log')).includes('"serving"'));
    expect(fs.existsSync(path.join(bundle('o2'), 'address'))).toBe(false);
    await daemon.start();
    // before: the bundle was removed as one without a shim, and the spare served on, unknown
    expect(processGone(spare)).toBe(true);
    await runAgainAndRemove('o2');
    await runAgainAndRemove('o1');
    expect(busyShims()).toEqual([]);
    expect(fs.readdirSync(path.join(state(), 'tasks', NS))).toEqual([]);
  }, 120_000);

  it('a shim just spawned for a task (its bundle did not name it yet) is stopped at restart', async () => {
    const freeze = freezeAt(daemon.dir, { call: 'fs.renameSync', arg: `/tasks/${NS}/c1/address` });
    await daemon.start(freeze);
    await container('c1');
    await killDuringCreate('c1', freeze.frozen);
    await waitFor('the shim serving c1', () => readOr(path.join(bundle('c1'), 'shim.log')).includes('"serving"'));
    const orphan = busyShims().map((p) => p.pid);
    expect(orphan).toHaveLength(1);
    await daemon.start();
    expect(processGone(orphan[0]!)).toBe(true);
    await runAgainAndRemove('c1');
    expect(busyShims()).toEqual([]);
  }, 120_000);

  it('a shim still starting when the daemon restarts, its pid not written yet, is found by its bundle and stopped by Delete', async () => {
    const gate = shimGate(daemon.dir);
    const freeze = freezeAt(daemon.dir, { call: 'fs.renameSync', arg: `/tasks/${NS}/p1/shim.pid` });
    await daemon.start({ nodeArgs: freeze.nodeArgs, env: { ...freeze.env, GANTRY_SHIM_NODE_FLAGS: gate.flags } });
    await container('p1');
    await killDuringCreate('p1', freeze.frozen);
    const [starting] = busyShims().map((p) => p.pid);
    expect(starting).toBeDefined();
    // held before it loads: it cannot answer the restarted daemon
    await daemon.start();
    expect(processGone(starting!)).toBe(false);
    gate.open();
    // before: its bundle was cleaned up as one whose shim was gone, and the shim then served on, unknown
    await call(daemon.tasks, daemon.tasks.delete, { containerId: 'p1' }, NS).catch(() => undefined);
    expect(processGone(starting!)).toBe(true);
    await runAgainAndRemove('p1');
    expect(busyShims()).toEqual([]);
  }, 120_000);

  it("the previous daemon's spare, started right before the kill, is gone once the restarted daemon serves", async () => {
    // held before it loads, it cannot see its stdin close (how a spare ends with its daemon)
    const gate = shimGate(daemon.dir);
    const freeze = freezeAt(daemon.dir, { call: 'child_process.spawn', arg: '--warm', when: 'after' });
    await daemon.start({ nodeArgs: freeze.nodeArgs, env: { ...freeze.env, GANTRY_SHIM_NODE_FLAGS: gate.flags } });
    await container('s1');
    // the spare is started while the task's own shim is (still held) starting
    await killDuringCreate('s1', freeze.frozen);
    const spare = findShimProcesses(state()).find((p) => p.warm)?.pid;
    expect(spare).toBeDefined();
    await daemon.start();
    // before: it stayed until it got past its gate (or forever, had it been stuck)
    expect(processGone(spare!)).toBe(true);
    gate.open();
    await runAgainAndRemove('s1');
    expect(busyShims()).toEqual([]);
  }, 120_000);
});

function readOr(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
