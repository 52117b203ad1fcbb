/**
 * gantry-containerd killed -9 inside a task's shim start-up, at a point the test chooses: frozen
 * there by a preload (@gantry/testkit's freezeAt, given to gantryd through NODE_OPTIONS; gantryd's
 * supervisor restarts gantry-containerd, which then runs through) right after it handed its warm
 * spare shim the task and before the task's bundle named the shim. `docker run` still succeeds
 * (gantryd creates the task again on the restarted daemon) and once the containers are removed
 * nothing is left. Before the restarted daemon looked for such shims, the spare served on, known to
 * no one: the fault test's "shim: <pid>" 30 s after every container was removed.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freezeAt, waitFor } from '@gantry/testkit';
import { SoakEnv, TRAP_SLEEP, type Snapshot } from '../src/soak';

describe('kill -9 of gantry-containerd while it hands its spare shim a task', () => {
  let env: SoakEnv;
  let fz: string;
  let before: Snapshot;
  const freeze = () => freezeAt(fz, { call: 'fs.renameSync', arg: '/address', nth: 2, script: 'containerd/dist/main.js' });
  let point: ReturnType<typeof freeze>;

  beforeAll(async () => {
    fz = fs.mkdtempSync(path.join(os.tmpdir(), 'gfz-'));
    point = freeze();
    // the second task's shim is the spare the first one's start left (the first task starts a cold one)
    env = await SoakEnv.start('gfs-', { ...point.env, NODE_OPTIONS: point.nodeOptions });
    before = env.snapshot('before');
  }, 120000);

  afterAll(async () => {
    await env?.stop();
    fs.rmSync(fz, { recursive: true, force: true });
  });

  it('docker run succeeds, and nothing is left once the containers are removed', async () => {
    const first = (await env.dockerOk(['run', '-d', ...TRAP_SLEEP])).trim();
    await waitFor('the warm spare shim', () => env.snapshot('spare').spareShims.length === 1, { timeoutMs: 30000, stepMs: 250 });
    const spare = env.snapshot('spare').spareShims[0]!;
    const killed = env.containerdPid();
    const second = env.docker(['run', '-d', ...TRAP_SLEEP]);
    await waitFor('gantry-containerd frozen after handing the spare its task', point.frozen, { timeoutMs: 60000 });
    expect(point.frozenPid()).toBe(killed);
    process.kill(killed!, 'SIGKILL');
    const r = await second;
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    expect(env.containerdPid()).not.toBe(killed);
    await env.dockerOk(['rm', '-f', first, r.stdout.trim()]);
    const { leaks } = await env.settle('end', before, 30000);
    expect(leaks).toEqual([]);
    // the spare the killed daemon handed the task to was stopped by the restarted one
    expect(env.shims()).not.toContain(spare);
  }, 180000);
});
