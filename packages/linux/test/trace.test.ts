import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { setTraceDir, span, traceBoot, traced, traceEnabled, traceEnv, traceFd, traceMark, traceProcess } from '../src/trace';
import { mergeTraceDir, readTraceFile, type TraceEvent } from '../src/trace-merge';

let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gantry-trace-test-'));
});

afterEach(() => {
  setTraceDir(undefined);
  fs.rmSync(dir, { recursive: true, force: true });
});

const complete = (evs: TraceEvent[]) => evs.filter((e) => e.ph === 'X');
const byName = (evs: TraceEvent[], name: string) => {
  const e = evs.find((x) => x.name === name);
  if (!e) throw new Error(`no event ${name} in ${JSON.stringify(evs)}`);
  return e;
};
const endOf = (e: TraceEvent) => e.ts! + e.dur!;
const tick = () => new Promise((r) => setImmediate(r));

describe('tracing off', () => {
  it('writes nothing and returns what the traced function returns', async () => {
    setTraceDir(undefined);
    expect(traceEnabled()).toBe(false);
    expect(traceEnv()).toEqual({});
    traceProcess('gantryd');
    span('a').end();
    traceMark('m');
    expect(traced('b', () => 7)).toBe(7);
    await expect(traced('c', () => Promise.resolve(8))).resolves.toBe(8);
    expect(traceFd()).toBeUndefined();
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('stays off for a relative path (GANTRY_TRACE=1 is the runtime CLI’s stderr milestones)', () => {
    setTraceDir('1');
    expect(traceEnabled()).toBe(false);
  });

  it('hands the same span object out for every disabled span (no allocation)', () => {
    setTraceDir(undefined);
    expect(span('a')).toBe(span('b'));
  });
});

describe('tracing on', () => {
  it('writes one file per process named after it, with its process_name', () => {
    setTraceDir(dir);
    traceProcess('gantry-shim', 4242);
    span('shim.create').end();
    expect(fs.readdirSync(dir)).toEqual(['gantry-shim-4242.jsonl']);
    const evs = readTraceFile(path.join(dir, 'gantry-shim-4242.jsonl'));
    expect(evs[0]).toEqual({ name: 'process_name', ph: 'M', pid: 4242, tid: 0, args: { name: 'gantry-shim 4242' } });
    expect(byName(evs, 'shim.create')).toMatchObject({ ph: 'X', cat: 'shim', pid: 4242, tid: 1 });
    expect(traceEnv()).toEqual({ GANTRY_TRACE: dir });
  });

  it('puts wall-clock microseconds in ts, so processes line up', () => {
    setTraceDir(dir);
    traceProcess('t');
    const before = Date.now() * 1000;
    span('x').end();
    const after = Date.now() * 1000;
    const x = byName(readTraceFile(path.join(dir, `t-${process.pid}.jsonl`)), 'x');
    // performance.timeOrigin and Date differ by well under a millisecond
    expect(x.ts!).toBeGreaterThanOrEqual(before - 2000);
    expect(x.ts!).toBeLessThanOrEqual(after + 2000);
  });

  it('nests spans begun inside traced() on the parent’s lane, within its time', async () => {
    setTraceDir(dir);
    traceProcess('t');
    await traced('engine.create', async () => {
      traced('engine.create.decode', () => undefined);
      await tick();
      const s = span('engine.create.spec');
      await tick();
      s.end();
      await traced('engine.create.snapshot', () => tick());
    });
    const evs = complete(mergeTraceDir(dir).traceEvents);
    const parent = byName(evs, 'engine.create');
    for (const n of ['engine.create.decode', 'engine.create.spec', 'engine.create.snapshot']) {
      const c = byName(evs, n);
      expect(c.tid).toBe(parent.tid);
      expect(c.ts!).toBeGreaterThanOrEqual(parent.ts!);
      expect(endOf(c)).toBeLessThanOrEqual(endOf(parent));
    }
  });

  it('puts concurrent work on separate lanes, so each lane nests properly', async () => {
    setTraceDir(dir);
    traceProcess('t');
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    // attach begins first and outlives start, as docker run's requests do
    const attach = traced('engine.attach', () => gate);
    await traced('engine.start', async () => {
      await traced('engine.start.task', () => tick());
    });
    release();
    await attach;
    const evs = complete(mergeTraceDir(dir).traceEvents);
    expect(byName(evs, 'engine.start').tid).not.toBe(byName(evs, 'engine.attach').tid);
    expect(byName(evs, 'engine.start.task').tid).toBe(byName(evs, 'engine.start').tid);
    // every lane is a proper nesting: two spans on a lane are disjoint or one holds the other
    for (const a of evs)
      for (const b of evs) {
        if (a === b || a.tid !== b.tid) continue;
        const disjoint = endOf(a) <= b.ts! || endOf(b) <= a.ts!;
        const nested = (a.ts! <= b.ts! && endOf(b) <= endOf(a)) || (b.ts! <= a.ts! && endOf(a) <= endOf(b));
        expect(disjoint || nested).toBe(true);
      }
  });

  it('records a rejection in the span and passes it on', async () => {
    setTraceDir(dir);
    traceProcess('t');
    await expect(traced('boom', () => Promise.reject(new Error('no such image')))).rejects.toThrow('no such image');
    expect(() =>
      traced('sync', () => {
        throw new Error('bad spec');
      }),
    ).toThrow('bad spec');
    const evs = complete(mergeTraceDir(dir).traceEvents);
    expect(byName(evs, 'boom').args).toEqual({ error: 'no such image' });
    expect(byName(evs, 'sync').args).toEqual({ error: 'bad spec' });
  });

  it('ends a span once, merging the args given at the end', () => {
    setTraceDir(dir);
    traceProcess('t');
    const s = span('engine.create', { image: 'busybox' });
    s.end({ id: 'abc' });
    s.end({ id: 'again' });
    const evs = complete(mergeTraceDir(dir).traceEvents);
    expect(evs).toHaveLength(1);
    expect(evs[0]!.args).toEqual({ image: 'busybox', id: 'abc' });
  });

  it('writes marks as instant events', () => {
    setTraceDir(dir);
    traceProcess('t');
    traceMark('stage.execve', { pid: 1 });
    const m = byName(mergeTraceDir(dir).traceEvents, 'stage.execve');
    expect(m).toMatchObject({ ph: 'i', s: 't', args: { pid: 1 } });
  });

  it('spans the time from the process’s start for traceBoot', () => {
    setTraceDir(dir);
    traceProcess('t');
    traceBoot('stage.boot');
    const boot = byName(mergeTraceDir(dir).traceEvents, 'stage.boot');
    // jest's worker has been up for a while: the span starts well before now and ends about now
    expect(boot.ts!).toBeLessThan(Date.now() * 1000 - 100_000);
    expect(Math.abs(endOf(boot) - Date.now() * 1000)).toBeLessThan(50_000);
  });

  it('opens the file on first use when the process did not name itself', () => {
    setTraceDir(dir);
    span('x').end();
    expect(fs.readdirSync(dir)).toHaveLength(1);
    expect(traceFd()).toEqual(expect.any(Number));
  });

  it('stays off when the directory cannot be made', () => {
    const file = path.join(dir, 'not-a-dir');
    fs.writeFileSync(file, '');
    setTraceDir(path.join(file, 'sub'));
    traceProcess('t');
    span('x').end();
    expect(traceEnabled()).toBe(false);
    expect(traceFd()).toBeUndefined();
  });
});

describe('mergeTraceDir', () => {
  it('builds valid JSON from the files of several processes, even with a line cut short by a crash', () => {
    setTraceDir(dir);
    traceProcess('gantry-shim', 20);
    span('shim.create').end();
    setTraceDir(dir);
    traceProcess('gantryd', 10);
    span('engine.create').end();
    // a process killed mid-write: half a line, no newline
    fs.appendFileSync(path.join(dir, 'gantryd-10.jsonl'), '{"name":"engine.start","ph":"X","ts":12');
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'not a trace file');
    const doc = JSON.parse(JSON.stringify(mergeTraceDir(dir))) as { traceEvents: TraceEvent[] };
    expect(
      complete(doc.traceEvents)
        .map((e) => e.name)
        .sort(),
    ).toEqual(['engine.create', 'shim.create']);
    const sort = doc.traceEvents.filter((e) => e.name === 'process_sort_index');
    // gantryd above the shim
    expect(sort.find((e) => e.pid === 10)!.args!.sort_index).toBeLessThan(sort.find((e) => e.pid === 20)!.args!.sort_index as number);
  });

  it('keeps only the events of a time window, and the processes that have some', () => {
    const lines = (pid: number, ts: number) =>
      [
        JSON.stringify({ name: 'process_name', ph: 'M', pid, tid: 0, args: { name: `p ${pid}` } }),
        JSON.stringify({ name: 'x', ph: 'X', pid, tid: 1, ts, dur: 5 }),
      ].join('\n') + '\n';
    fs.writeFileSync(path.join(dir, 'p-1.jsonl'), lines(1, 100));
    fs.writeFileSync(path.join(dir, 'p-2.jsonl'), lines(2, 500));
    const evs = mergeTraceDir(dir, { from: 200, to: 1000 }).traceEvents;
    expect(evs.map((e) => [e.name, e.pid])).toEqual([
      ['process_name', 2],
      ['process_sort_index', 2],
      ['x', 2],
    ]);
  });
});
