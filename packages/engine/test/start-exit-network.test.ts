/**
 * The network's set-up and teardown overlap the task's create and delete: the interfaces are made
 * while Tasks.Create runs (the init joins the namespace by path, so only the namespace must exist
 * first) and are all there before Tasks.Start; at exit, CNI DEL runs beside Tasks.Delete. What a
 * client sees (start's answer, the die event, the wait) comes after both, as before.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Logger } from '@gantry/linux';
import type { ContainerSandboxes } from '../src/backend/networks';
import type { Containerd } from '../src/containerd/client';
import { ContainerManager } from '../src/containers/manager';
import { initialState, type ContainerRecord } from '../src/containers/record';
import { ContainerStore } from '../src/containers/store';
import type { EngineContext } from '../src/context';
import { EngineEvents } from '../src/events';
import { FakeContainerd } from './fake-containerd';

/** A promise resolved from outside. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = (): void => undefined;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

describe('network set-up and teardown beside the task calls', () => {
  let dir: string;
  let cd: FakeContainerd;
  let store: ContainerStore;
  let mgr: ContainerManager;
  let log: string[];
  let upGate: ReturnType<typeof gate>;
  let downGate: ReturnType<typeof gate>;
  let upFails: Error | undefined;

  const networks: ContainerSandboxes = {
    prepare: () => ({ netns: { path: '/run/netns/x' }, hostname: 'x' }),
    joinPath: () => '/run/netns/x',
    up: async (_id, opts) => {
      log.push('netns');
      opts?.namespaceReady?.();
      await upGate.promise;
      if (upFails) throw upFails;
      log.push('interfaces up');
    },
    down: async () => {
      log.push('down begins');
      await downGate.promise;
      log.push('down ends');
    },
    forget: async () => undefined,
  };

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gnetoverlap-'));
    cd = new FakeContainerd();
    const ctx: EngineContext = {
      log: new Logger('error', {}, () => undefined),
      cd: cd as unknown as Containerd,
      events: new EngineEvents(),
      dataRoot: path.join(dir, 'data'),
      started: new Date(),
      networks,
    };
    store = new ContainerStore(ctx.dataRoot);
    mgr = new ContainerManager(ctx, store);
    log = [];
    upGate = gate();
    downGate = gate();
    upFails = undefined;
    cd.handlers.set('Snapshots.mounts', async () => ({ mounts: [] }));
    cd.handlers.set('Tasks.delete', async () => {
      log.push('Tasks.delete');
      return {};
    });
    cd.handlers.set('Tasks.create', async () => {
      log.push('Tasks.create');
      return { pid: 4242 };
    });
    cd.handlers.set('Tasks.start', async () => {
      log.push('Tasks.start');
      return { pid: 4242 };
    });
  });

  afterEach(() => {
    mgr.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function container(running: boolean): ContainerRecord {
    const id = store.newId();
    const rec: ContainerRecord = {
      Id: id,
      Name: '/net',
      Created: new Date().toISOString(),
      Path: 'true',
      Args: [],
      Image: 'busybox',
      ImageID: 'sha256:0',
      Config: { Cmd: ['true'], Image: 'busybox', Tty: false },
      HostConfig: {},
      State: running ? { ...initialState(), Status: 'running', Running: true, Pid: 4242 } : initialState(),
      RestartCount: 0,
      LogPath: path.join(dir, 'data', 'containers', id, `${id}-json.log`),
      ManuallyStopped: false,
      SnapshotKey: id,
    };
    store.save(rec);
    return rec;
  }

  const until = async (what: () => boolean): Promise<void> => {
    for (let i = 0; i < 1000 && !what(); i++) await new Promise((r) => setImmediate(r));
    if (!what()) throw new Error(`never happened; log: ${log.join(', ')}`);
  };

  it('creates the task once the namespace exists, and starts it only once the interfaces are up', async () => {
    const c = container(false);
    const started = mgr.start(c.Id);
    await until(() => log.includes('Tasks.create'));
    // the interfaces are still being made: no start yet
    expect(log).toEqual(['Tasks.delete', 'netns', 'Tasks.create']);
    await new Promise((r) => setImmediate(r));
    expect(log).not.toContain('Tasks.start');
    upGate.open();
    await started;
    expect(log).toEqual(['Tasks.delete', 'netns', 'Tasks.create', 'interfaces up', 'Tasks.start']);
    expect(store.get(c.Id).State).toMatchObject({ Running: true, Pid: 4242 });
  });

  it('a set-up that fails after the task was created: the start fails with it, the task is deleted, the network undone after', async () => {
    const c = container(false);
    upFails = new Error('failed to set up container networking: bridge said no');
    const started = mgr.start(c.Id);
    await until(() => log.includes('Tasks.create'));
    upGate.open();
    downGate.open();
    await expect(started).rejects.toThrow(/bridge said no/);
    expect(log).not.toContain('Tasks.start');
    expect(log.slice(2)).toEqual(['Tasks.create', 'Tasks.delete', 'down begins', 'down ends']);
    expect(store.get(c.Id).State).toMatchObject({ Running: false, Status: 'created' });
  });

  it('at exit, tears the network down beside Tasks.Delete, and the exit is settled after both', async () => {
    const c = container(true);
    const deleteGate = gate();
    cd.handlers.set('Tasks.delete', async () => {
      log.push('Tasks.delete begins');
      await deleteGate.promise;
      log.push('Tasks.delete ends');
      return {};
    });
    const exited = mgr.handleTaskExit({ containerId: c.Id, pid: 4242, exitStatus: 3, exitedAt: new Date() });
    // the teardown begins while Tasks.Delete is still under way
    await until(() => log.includes('down begins'));
    expect(log).toEqual(['Tasks.delete begins', 'down begins']);
    deleteGate.open();
    await until(() => log.includes('Tasks.delete ends'));
    // the teardown not done: the exit is not settled yet
    await new Promise((r) => setImmediate(r));
    expect(store.get(c.Id).State.Running).toBe(true);
    downGate.open();
    await exited;
    expect(log).toEqual(['Tasks.delete begins', 'down begins', 'Tasks.delete ends', 'down ends']);
    expect(store.get(c.Id).State).toMatchObject({ Running: false, ExitCode: 3 });
  });
});
