import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { events, packAny, timestampFromDate, types } from '@gantry/api';
import { Logger } from '@gantry/linux';
import type { Containerd } from '../src/containerd/client';
import type { EngineContext } from '../src/context';
import { EngineEvents } from '../src/events';
import { ContainerManager } from '../src/containers/manager';
import { EventMonitor, type EventStream, type MonitorHandlers, type TaskExitEvent } from '../src/containers/monitor';
import { initialState, type ContainerRecord } from '../src/containers/record';
import { ContainerStore } from '../src/containers/store';

const NS = 'gantry';
const log = new Logger('error');

/** A Subscribe stream the test drives: headers, envelopes, a break. */
class FakeStream extends EventEmitter implements EventStream {
  cancelled = false;
  constructor(readonly filters: string[]) {
    super();
  }
  cancel(): void {
    this.cancelled = true;
  }
  live(): void {
    this.emit('metadata');
  }
  exit(containerId: string, exitStatus: number, opts: { id?: string; pid?: number; ns?: string } = {}): void {
    const ev = packAny('containerd.events.TaskExit', events.TaskExit, {
      containerId,
      id: opts.id ?? containerId,
      pid: opts.pid ?? 0,
      exitStatus,
      exitedAt: timestampFromDate(new Date('2026-01-02T03:04:05.000Z')),
    });
    this.emit('data', { timestamp: timestampFromDate(new Date()), namespace: opts.ns ?? NS, topic: '/tasks/exit', event: ev });
  }
  oom(containerId: string): void {
    this.emit('data', {
      timestamp: timestampFromDate(new Date()),
      namespace: NS,
      topic: '/tasks/oom',
      event: packAny('containerd.events.TaskOOM', events.TaskOOM, { containerId }),
    });
  }
  break(): void {
    this.emit('error', Object.assign(new Error('14 UNAVAILABLE: Connection dropped'), { code: 14 }));
  }
}

/** The streams the monitor opened, and a promise for the next one. */
class Subscriptions {
  readonly all: FakeStream[] = [];
  private waiting: ((s: FakeStream) => void)[] = [];
  readonly subscribe = (filters: string[]): EventStream => {
    const s = new FakeStream(filters);
    this.all.push(s);
    for (const w of this.waiting.splice(0)) w(s);
    return s;
  };
  next(count: number): Promise<FakeStream> {
    if (this.all.length >= count) return Promise.resolve(this.all[count - 1]!);
    return new Promise((r) => this.waiting.push(() => (this.all.length >= count ? r(this.all[count - 1]!) : undefined)));
  }
}

function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe('EventMonitor', () => {
  const handlers = () => {
    const seen: string[] = [];
    const lives: number[] = [];
    const h: MonitorHandlers & { seen: string[]; lives: number[]; exits: TaskExitEvent[] } = {
      seen,
      lives,
      exits: [],
      exit: async (e) => {
        h.exits.push(e);
        seen.push(`exit ${e.containerId} ${e.id} ${e.exitStatus}`);
      },
      oom: async (id) => {
        seen.push(`oom ${id}`);
      },
      live: async (n) => {
        lives.push(n);
      },
    };
    return h;
  };

  it("subscribes to this namespace's exits and OOMs and decodes them", async () => {
    const subs = new Subscriptions();
    const h = handlers();
    const m = new EventMonitor(subs.subscribe, NS, h, log);
    m.start();
    const s = await subs.next(1);
    expect(s.filters.join(' ')).toContain(`namespace==${NS}`);
    expect(s.filters.join(' ')).toContain('/tasks/exit');
    expect(s.filters.join(' ')).toContain('/tasks/oom');
    s.live();
    await m.ready;
    s.oom('c1');
    s.exit('c1', 137, { pid: 42 });
    s.exit('c1', 3, { id: 'exec-1' });
    s.exit('c2', 0, { ns: 'other' });
    await m.idle();
    // an exec's exit has its own queue: only the init's exit is ordered after the OOM
    expect(h.seen.filter((x) => !x.includes('exec-1'))).toEqual(['oom c1', 'exit c1 c1 137']);
    expect(h.seen).toContain('exit c1 exec-1 3');
    expect(h.seen).toHaveLength(3);
    expect(h.exits.find((e) => e.id === 'c1')).toMatchObject({ pid: 42, exitedAt: new Date('2026-01-02T03:04:05.000Z') });
    expect(h.lives).toEqual([1]);
    m.close();
    expect(s.cancelled).toBe(true);
  });

  it("handles one container's events in stream order: the exit waits for the OOM before it", async () => {
    const subs = new Subscriptions();
    const gate = deferred();
    const order: string[] = [];
    const m = new EventMonitor(
      subs.subscribe,
      NS,
      {
        oom: async (id) => {
          order.push(`oom ${id} begin`);
          await gate.promise;
          order.push(`oom ${id} end`);
        },
        exit: async (e) => {
          order.push(`exit ${e.containerId}`);
        },
        live: async () => undefined,
      },
      log,
    );
    m.start();
    const s = await subs.next(1);
    s.oom('a');
    s.exit('a', 137);
    s.exit('b', 0);
    // b does not wait for a
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual(['oom a begin', 'exit b']);
    gate.resolve();
    await m.idle();
    expect(order).toEqual(['oom a begin', 'exit b', 'oom a end', 'exit a']);
    m.close();
  });

  it('re-subscribes after the stream breaks and reports each new live subscription', async () => {
    const subs = new Subscriptions();
    const h = handlers();
    const m = new EventMonitor(subs.subscribe, NS, h, log, { minDelayMs: 1, maxDelayMs: 4 });
    m.start();
    const s1 = await subs.next(1);
    s1.live();
    s1.break();
    const s2 = await subs.next(2);
    // a failed attempt (no headers) is retried too
    s2.emit('end');
    const s3 = await subs.next(3);
    s3.live();
    await m.idle();
    expect(h.lives).toEqual([1, 2]);
    s3.exit('c9', 1);
    await m.idle();
    expect(h.seen).toEqual(['exit c9 c9 1']);
    // events on a stream already given up are not handled twice
    s1.exit('c9', 1);
    m.close();
    s3.break();
    expect(subs.all).toHaveLength(3);
  });
});

describe('ContainerManager exits from events', () => {
  let dir: string;
  let store: ContainerStore;
  let engineEvents: EngineEvents;
  let actions: string[];

  /** gantry-containerd's task calls, as the tests script them. */
  const fakeCd = (tasks: Record<string, (req: never) => Promise<unknown>>): Containerd =>
    ({
      namespace: NS,
      tasks: { delete: async () => ({}), kill: async () => ({}), ...tasks },
      snapshots: { mounts: async () => ({ mounts: [] }) },
      containers: { delete: async () => ({}) },
      call: (client: object, method: (req: unknown) => Promise<unknown>, req: unknown) => method.call(client, req),
      // no connection to cut here: the same as call
      callIdempotent: (client: object, method: (req: unknown) => Promise<unknown>, req: unknown) => method.call(client, req),
    }) as unknown as Containerd;

  const manager = (cd: Containerd) => {
    const ctx: EngineContext = { log, cd, events: engineEvents, dataRoot: dir, started: new Date() };
    return new ContainerManager(ctx, store);
  };

  const record = (id: string, state: Partial<ContainerRecord['State']> = {}): ContainerRecord => {
    const rec: ContainerRecord = {
      Id: id,
      Name: `/n-${id.slice(0, 6)}`,
      Created: new Date().toISOString(),
      Path: 'sh',
      Args: [],
      Image: 'busybox',
      ImageID: 'sha256:0',
      Config: { Image: 'busybox', Cmd: ['sh'] },
      HostConfig: {},
      State: { ...initialState(), ...state },
      RestartCount: 0,
      LogPath: path.join(dir, `${id}.log`),
      ManuallyStopped: false,
      SnapshotKey: id,
    };
    fs.mkdirSync(store.containerDir(id), { recursive: true });
    store.save(rec);
    return rec;
  };

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gantry-monitor-'));
    store = new ContainerStore(dir);
    engineEvents = new EngineEvents();
    actions = [];
    engineEvents.subscribe((e) => actions.push(`${e.Action} ${e.Actor.ID.slice(0, 2)}`));
  });

  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('an exit that overtakes the Create/Start reply is settled after it, not lost', async () => {
    const id = 'a1'.padEnd(64, '0');
    record(id);
    const subs = new Subscriptions();
    const cd = fakeCd({
      create: async () => ({ pid: 4242 }),
      start: async () => {
        // the program exits at once: its /tasks/exit reaches gantryd before Start answers
        subs.all[0]!.exit(id, 3, { pid: 4242 });
        await new Promise((r) => setImmediate(r));
        return { pid: 4242 };
      },
    });
    const mgr = manager(cd);
    const m = new EventMonitor(subs.subscribe, NS, { exit: (e) => mgr.handleTaskExit(e), oom: (i) => mgr.handleOom(i), live: async () => undefined }, log);
    m.start();
    (await subs.next(1)).live();
    await mgr.start(id);
    await m.idle();
    const rec = store.get(id);
    expect(rec.State).toMatchObject({ Status: 'exited', Running: false, ExitCode: 3, Pid: 0, FinishedAt: '2026-01-02T03:04:05.000Z' });
    expect(actions).toEqual(['start a1', 'die a1']);
    await expect(mgr.wait(id)).resolves.toEqual({ StatusCode: 3, Error: null });
    m.close();
    mgr.close();
  });

  it('an OOM then the exit: OOMKilled true, oom before die; a late exit of an earlier run is ignored', async () => {
    const id = 'b2'.padEnd(64, '0');
    record(id, { Status: 'running', Running: true, Pid: 77 });
    const mgr = manager(fakeCd({}));
    const subs = new Subscriptions();
    const m = new EventMonitor(subs.subscribe, NS, { exit: (e) => mgr.handleTaskExit(e), oom: (i) => mgr.handleOom(i), live: async () => undefined }, log);
    m.start();
    const s = await subs.next(1);
    s.live();
    const waited = mgr.wait(id, 'not-running');
    s.exit(id, 0, { pid: 12 }); // not the running task's pid
    await m.idle();
    expect(store.get(id).State.Running).toBe(true);
    s.oom(id);
    s.exit(id, 137, { pid: 77 });
    await m.idle();
    await expect(waited).resolves.toEqual({ StatusCode: 137, Error: null });
    expect(store.get(id).State).toMatchObject({ Status: 'exited', OOMKilled: true, ExitCode: 137 });
    expect(actions).toEqual(['oom b2', 'die b2']);
    m.close();
    mgr.close();
  });

  it('reconcile settles exits the broken stream did not deliver: stopped tasks with their status, vanished ones with 255', async () => {
    const stopped = 'c3'.padEnd(64, '0');
    const gone = 'd4'.padEnd(64, '0');
    const running = 'e5'.padEnd(64, '0');
    for (const id of [stopped, gone, running]) record(id, { Status: 'running', Running: true, Pid: 5 });
    const mgr = manager(
      fakeCd({
        get: async (req: { containerId: string }) => {
          if (req.containerId === gone) throw Object.assign(new Error('5 NOT_FOUND'), { code: 5 });
          const status = req.containerId === stopped ? types.Status.STOPPED : types.Status.RUNNING;
          return {
            process: {
              id: req.containerId,
              pid: 5,
              status,
              exitStatus: req.containerId === stopped ? 9 : 0,
              exitedAt: timestampFromDate(new Date('2026-01-02T03:04:05.000Z')),
            },
          };
        },
      }),
    );
    await mgr.reconcile();
    expect(store.get(stopped).State).toMatchObject({ Status: 'exited', ExitCode: 9, FinishedAt: '2026-01-02T03:04:05.000Z' });
    expect(store.get(gone).State).toMatchObject({ Status: 'exited', ExitCode: 255 });
    expect(store.get(running).State).toMatchObject({ Status: 'running', Running: true });
    // the event arriving after the reconcile settled it changes nothing
    await mgr.handleTaskExit({ containerId: stopped, pid: 5, exitStatus: 1, exitedAt: new Date() });
    expect(store.get(stopped).State.ExitCode).toBe(9);
    expect(actions.filter((a) => a.startsWith('die'))).toEqual(['die c3', 'die d4']);
    mgr.close();
  });
});
