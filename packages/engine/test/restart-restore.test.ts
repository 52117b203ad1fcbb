/**
 * gantryd starting again (live-restore) while the event stream is already live: an exit that the
 * shim queued while the daemons were down can arrive between the subscription and restore()'s
 * pass over the records. The container must then be restarted once by its policy, not once by the
 * event and again by restore() (seen in CI: `on-failure:1` ending with RestartCount 2), and the
 * stale task listing must not settle the new run.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { types } from '@gantry/api';
import { Logger } from '@gantry/linux';
import type { Containerd } from '../src/containerd/client';
import { ContainerManager } from '../src/containers/manager';
import { initialState, type ContainerRecord } from '../src/containers/record';
import { ContainerStore } from '../src/containers/store';
import type { EngineContext } from '../src/context';
import { EngineEvents } from '../src/events';
import { FakeContainerd } from './fake-containerd';

describe('restore() and an exit delivered by the event stream', () => {
  let dir: string;
  let cd: FakeContainerd;
  let store: ContainerStore;
  let mgr: ContainerManager;
  const before = new Date(Date.now() - 60_000).toISOString();

  beforeEach(() => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'grestore-'));
    cd = new FakeContainerd();
    const log = new Logger('error', {}, () => undefined);
    const ctx: EngineContext = { log, cd: cd as unknown as Containerd, events: new EngineEvents(), dataRoot: path.join(dir, 'data'), started: new Date() };
    store = new ContainerStore(ctx.dataRoot);
    mgr = new ContainerManager(ctx, store);
    let pid = 5000;
    cd.handlers.set('Snapshots.mounts', async () => ({ mounts: [] }));
    // a start takes longer than the first back-off step, as a real one does under load
    cd.handlers.set('Tasks.create', async () => {
      await new Promise((r) => setTimeout(r, 500));
      return { pid: ++pid };
    });
  });

  afterEach(() => {
    mgr.close();
    jest.useRealTimers();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function container(state: Partial<ContainerRecord['State']>): ContainerRecord {
    const id = store.newId();
    const rec: ContainerRecord = {
      Id: id,
      Name: `/c${id.slice(0, 6)}`,
      Created: before,
      Path: 'sh',
      Args: [],
      Image: 'busybox',
      ImageID: 'sha256:0',
      Config: { Cmd: ['sh'], Image: 'busybox', Tty: false },
      HostConfig: { RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 1 } },
      State: { ...initialState(), StartedAt: before, ...state },
      RestartCount: 0,
      LogPath: path.join(dir, 'data', 'containers', id, `${id}-json.log`),
      ManuallyStopped: false,
      SnapshotKey: id,
    };
    store.save(rec);
    return rec;
  }

  const starts = () => cd.methods().filter((m) => m === 'Tasks.start').length;
  const stopped = (id: string, pid: number) => ({ containerId: id, pid, status: types.Status.STOPPED, exitStatus: 7 });

  it('an exit that arrives before restore() reaches the container: one restart, RestartCount 1', async () => {
    const c = container({ Status: 'running', Running: true, Pid: 4242 });
    cd.handlers.set('Tasks.list', async () => {
      // the queued exit of the run that ended while gantryd was down, handled before the listing answers
      await mgr.handleTaskExit({ containerId: c.Id, pid: 4242, exitStatus: 7, exitedAt: new Date() });
      return { tasks: [stopped(c.Id, 4242)] };
    });
    await mgr.restore();
    // every back-off timer there could be, and the starts they lead to
    await jest.advanceTimersByTimeAsync(120_000);
    expect(starts()).toBe(1);
    expect(store.get(c.Id)).toMatchObject({ RestartCount: 1, State: { Running: true, Pid: 5001 } });
  });

  it('a restart already done when restore() reaches the container: the stale listing does not settle the new run', async () => {
    const c = container({ Status: 'running', Running: true, Pid: 4242 });
    cd.handlers.set('Tasks.list', async () => {
      await mgr.handleTaskExit({ containerId: c.Id, pid: 4242, exitStatus: 7, exitedAt: new Date() });
      await jest.advanceTimersByTimeAsync(2_000);
      expect(store.get(c.Id).State).toMatchObject({ Running: true, Pid: 5001 });
      return { tasks: [stopped(c.Id, 4242)] };
    });
    await mgr.restore();
    await jest.advanceTimersByTimeAsync(120_000);
    expect(starts()).toBe(1);
    expect(store.get(c.Id)).toMatchObject({ RestartCount: 1, State: { Status: 'running', Running: true, Pid: 5001 } });
  });

  it('a container gantryd left between an exit and its restart is still restarted once', async () => {
    const c = container({ Status: 'restarting', Restarting: true, ExitCode: 7, FinishedAt: before });
    cd.handlers.set('Tasks.list', async () => ({ tasks: [] }));
    await mgr.restore();
    await jest.advanceTimersByTimeAsync(120_000);
    expect(starts()).toBe(1);
    expect(store.get(c.Id)).toMatchObject({ RestartCount: 1, State: { Running: true } });
  });
});
