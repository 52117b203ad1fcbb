/**
 * findShimProcesses tells a daemon's shims from others' by their command lines (stand-ins here:
 * `node -e` with a shim's arguments), the bundle of a spare that took a task by its working
 * directory, and a shim whose parent is a live gantry-containerd of the same state dir.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { findShimProcesses, processGone } from '../src/tasks/shim-processes';
import { waitFor } from './helpers';

const IDLE = 'setInterval(() => undefined, 1000)';

describe('findShimProcesses', () => {
  let dir: string;
  let state: string;
  const started: ChildProcess[] = [];

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gsp-'));
    state = path.join(dir, 'state');
    fs.mkdirSync(path.join(state, 'tasks', 'ns', 'a'), { recursive: true });
    fs.mkdirSync(path.join(state, 'tasks', 'ns', 'b'), { recursive: true });
  });

  afterEach(() => {
    for (const c of started.splice(0)) c.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function run(args: string[], cwd = dir): ChildProcess {
    const c = spawn(process.execPath, ['-e', IDLE, ...args], { cwd, stdio: 'ignore' });
    started.push(c);
    return c;
  }

  it("finds spares, task shims and spares that took a task; not another state dir's", async () => {
    const spare = run(['serve', '--warm', '--pool', `${state}/`]);
    const took = run(['serve', '--warm', '--pool', `${state}/`], path.join(state, 'tasks', 'ns', 'b'));
    const cold = run(['serve', '--id', 'a', '--state-dir', path.join(state, 'tasks', 'ns', 'a'), '--runtime-root', path.join(state, 'runtime', 'ns')]);
    run(['serve', '--warm', '--pool', `${state}2/`]);
    run(['serve', '--state-dir', path.join(dir, 'tasks', 'ns', 'a'), '--runtime-root', path.join(state, 'runtime', 'ns')]);
    const want = [
      { pid: spare.pid, warm: true, bundle: undefined, parentDaemon: false },
      { pid: took.pid, warm: true, bundle: path.join(state, 'tasks', 'ns', 'b'), parentDaemon: false },
      { pid: cold.pid, warm: false, bundle: path.join(state, 'tasks', 'ns', 'a'), parentDaemon: false },
    ].sort((x, y) => x.pid! - y.pid!);
    const found = () =>
      findShimProcesses(state)
        .map(({ pid, warm, bundle, parentDaemon }) => ({ pid, warm, bundle, parentDaemon }))
        .sort((x, y) => x.pid - y.pid);
    // a process's command line is there once it exec'd node
    await waitFor('the stand-ins started', () => found().length === 3);
    expect(found()).toEqual(want);
  });

  it('takes the shim of a live daemon of this state dir for that daemon’s, and for an orphan once the daemon died', async () => {
    // a stand-in daemon: `--state <state>` on its command line, a spare as its child
    const script = `require('node:child_process').spawn(process.execPath, ['-e', ${JSON.stringify(IDLE)}, 'serve', '--warm', '--pool', ${JSON.stringify(`${state}/`)}], { detached: true, stdio: 'ignore' }).unref(); ${IDLE}`;
    const daemon = spawn(process.execPath, ['-e', script, '--', '--state', state], { stdio: 'ignore' });
    started.push(daemon);
    await waitFor("the daemon's spare", () => findShimProcesses(state).length === 1);
    const [shim] = findShimProcesses(state);
    expect(shim!.parentDaemon).toBe(true);
    try {
      daemon.kill('SIGKILL');
      await waitFor('the daemon gone', () => processGone(daemon.pid!));
      expect(findShimProcesses(state).map((p) => [p.pid, p.parentDaemon])).toEqual([[shim!.pid, false]]);
    } finally {
      process.kill(shim!.pid, 'SIGKILL');
    }
  });
});
