/**
 * The Docker SDK for Python (Debian's python3-docker) against gantryd: containers (run attached and
 * detached, exec_run, logs, archives, top, pause, update, stats, wait, remove), images (load, list,
 * get, tag, remove), networks and volumes. e2e/python/docker_sdk_suite.py runs the steps in one process (one client,
 * so the suite stays fast) and reports one JSON line per step; each step is one test here.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { describeIf, needRoot, type Unmet } from '@gantry/testkit';
import { GantrydHarness } from '../src/gantryd';

const SCRIPT = join(__dirname, '..', 'python', 'docker_sdk_suite.py');
/** Debian's python3 with python3-docker (the SDK the issue names); GANTRY_TEST_PYTHON overrides (e.g. a venv with docker 7). */
const PYTHON = process.env.GANTRY_TEST_PYTHON ?? (fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
const STEPS = [
  'ping_and_version',
  'images_load',
  'images_list_get_tag_remove',
  'run_attached_output',
  'run_attached_failure',
  'run_detached_exec',
  'list_and_filters',
  'logs',
  'archive_put_get',
  'top_pause_update',
  'stats_once',
  'networks',
  'volumes',
  'stop_wait_remove',
];

interface StepResult {
  step: string;
  ok: boolean;
  error?: string;
}

function needPythonDocker(): Unmet {
  const r = spawnSync(PYTHON, ['-c', 'import docker'], { stdio: 'ignore' });
  return r.status === 0 ? undefined : `${PYTHON} cannot import docker (Debian package python3-docker; tools/install-deps.sh installs it)`;
}

describeIf(needRoot(), needPythonDocker())('Docker SDK for Python against gantryd', () => {
  let h: GantrydHarness;
  const results = new Map<string, StepResult>();
  let stderr = '';

  beforeAll(async () => {
    h = await GantrydHarness.start('gpy-');
    const archive = h.makeBusyboxArchive();
    const child = spawn(PYTHON, [SCRIPT, h.sock, archive, h.dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    await new Promise<void>((resolve) => child.once('close', () => resolve()));
    for (const line of out.split('\n').filter(Boolean)) {
      const r = JSON.parse(line) as StepResult;
      results.set(r.step, r);
    }
  }, 90000);

  afterAll(async () => {
    await h?.stop();
  }, 60000);

  test('the script ran every step this suite knows', () => {
    expect([...results.keys()]).toEqual(STEPS);
  });

  test.each(STEPS)('%s', (name) => {
    const r = results.get(name);
    if (!r) throw new Error(`step ${name} did not report; script stderr:\n${stderr}`);
    if (!r.ok) throw new Error(`${r.error ?? ''}\ngantryd log:\n${h.logTail(20)}`);
  });
});
