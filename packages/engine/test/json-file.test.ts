import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  encodeEntry,
  jsonLogPath,
  JsonFileWriter,
  LogOptionError,
  MAX_LINE,
  parseLogOpts,
  parseSize,
  readLogs,
  tailStart,
  type LogMessage,
  type ReadLogsOptions,
} from '../src/logs/json-file';
import { formatRfc3339Nano, parseRfc3339Nano } from '../src/logs/time';

const T0 = 1_700_000_000_000_000_000n; // 2023-11-14T22:13:20Z in ns
const SEC = 1_000_000_000n;

let dir: string;
let file: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jsonlog-'));
  file = jsonLogPath(dir, 'c1');
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A clock that ticks one second per entry written. */
function ticking(start = T0): () => bigint {
  let t = start;
  return () => (t += SEC);
}

const ALL: ReadLogsOptions = { stdout: true, stderr: true, follow: false, tail: 'all', timestamps: false };

async function collect(p: string, opts: Partial<ReadLogsOptions> = {}): Promise<LogMessage[]> {
  const out: LogMessage[] = [];
  for await (const m of readLogs(p, { ...ALL, ...opts })) out.push(m);
  return out;
}
const text = (ms: LogMessage[]): string[] => ms.map((m) => m.line.toString());
const entries = (p: string): Record<string, string>[] =>
  fs
    .readFileSync(p, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, string>);

describe('timestamps', () => {
  it('formats RFC3339Nano as Go does (trimmed) and fixed, and parses back', () => {
    expect(formatRfc3339Nano(T0 + 123_450_000n)).toBe('2023-11-14T22:13:20.12345Z');
    expect(formatRfc3339Nano(T0)).toBe('2023-11-14T22:13:20Z');
    expect(formatRfc3339Nano(T0 + 5n, true)).toBe('2023-11-14T22:13:20.000000005Z');
    expect(parseRfc3339Nano('2023-11-14T22:13:20.000000005Z')).toBe(T0 + 5n);
    expect(parseRfc3339Nano('2023-11-14T23:13:20.5+01:00')).toBe(T0 + 500_000_000n);
    expect(parseRfc3339Nano('yesterday')).toBeUndefined();
  });
});

describe('json-file options', () => {
  it('parses Docker log-opts', () => {
    expect(parseSize('10m')).toBe(10 * 1024 * 1024);
    expect(parseSize('1k')).toBe(1024);
    expect(parseSize('2g')).toBe(2 * 1024 ** 3);
    expect(parseSize('100')).toBe(100);
    expect(parseLogOpts({ 'max-size': '1m', 'max-file': '3' })).toEqual({ maxSize: 1024 * 1024, maxFile: 3 });
    expect(parseLogOpts({ 'max-size': '-1', labels: 'a', tag: 'x' })).toEqual({ maxSize: -1 });
    expect(() => parseLogOpts({ 'max-size': 'lots' })).toThrow(LogOptionError);
    expect(() => parseLogOpts({ 'max-file': '0', 'max-size': '1k' })).toThrow(/less than 1/);
    expect(() => parseLogOpts({ 'max-file': '3' })).toThrow(/max-size/);
    expect(() => parseLogOpts({ colour: 'red' })).toThrow("unknown log opt 'colour' for json-file log driver");
  });
});

describe('JsonFileWriter', () => {
  it("writes one entry per line in Docker's format", () => {
    expect(encodeEntry('stdout', Buffer.from('<a&b>\n'), T0 + 1n).toString()).toBe(
      '{"log":"\\u003ca\\u0026b\\u003e\\n","stream":"stdout","time":"2023-11-14T22:13:20.000000001Z"}\n',
    );
    const w = new JsonFileWriter(file, { now: ticking() });
    w.write('stdout', Buffer.from('one\ntwo\nthr'));
    w.write('stderr', Buffer.from('err\n'));
    w.write('stdout', Buffer.from('ee\n'));
    w.close();
    expect(entries(file)).toEqual([
      { log: 'one\n', stream: 'stdout', time: '2023-11-14T22:13:21Z' },
      { log: 'two\n', stream: 'stdout', time: '2023-11-14T22:13:21Z' },
      { log: 'err\n', stream: 'stderr', time: '2023-11-14T22:13:22Z' },
      { log: 'three\n', stream: 'stdout', time: '2023-11-14T22:13:23Z' },
    ]);
    expect(fs.statSync(file).mode & 0o777).toBe(0o640);
  });

  it('writes partial lines: cut at 16 KiB, and the rest at close, without a newline', async () => {
    const w = new JsonFileWriter(file, { now: ticking() });
    w.write('stdout', Buffer.alloc(MAX_LINE + 10, 'x'));
    w.write('stdout', Buffer.from('y\nlast'));
    w.write('stderr', Buffer.from('no newline'));
    w.close();
    expect(entries(file).map((e) => [e.stream, e.log!.length, e.log!.endsWith('\n')])).toEqual([
      ['stdout', MAX_LINE, false],
      ['stdout', 12, true],
      ['stdout', 4, false],
      ['stderr', 10, false],
    ]);
    const msgs = await collect(file);
    expect(msgs.map((m) => m.partial)).toEqual([true, false, true, true]);
    expect(Buffer.concat(msgs.filter((m) => m.stream === 'stdout').map((m) => m.line)).toString()).toBe(`${'x'.repeat(MAX_LINE + 10)}y\nlast`);
  });

  it('consumes a stream and flushes its last partial line', async () => {
    const w = new JsonFileWriter(file, { now: ticking() });
    async function* src(): AsyncGenerator<Buffer> {
      yield Buffer.from('a\nb');
      yield Buffer.from('c');
    }
    await w.consume(src(), 'stderr');
    expect(text(await collect(file))).toEqual(['a\n', 'bc']);
    w.close();
  });

  it('rotates by size keeping max-file files, and reads them back in order', async () => {
    const entry = encodeEntry('stdout', Buffer.from('line 00\n'), T0 + SEC).length;
    const w = new JsonFileWriter(file, { maxSize: entry * 3, maxFile: 3, now: ticking() });
    for (let i = 0; i < 20; i++) w.write('stdout', Buffer.from(`line ${String(i).padStart(2, '0')}\n`));
    w.close();
    expect(fs.readdirSync(path.dirname(file)).sort()).toEqual(['c1-json.log', 'c1-json.log.1', 'c1-json.log.2']);
    expect(entries(`${file}.2`).map((e) => e.log)).toEqual(['line 12\n', 'line 13\n', 'line 14\n']);
    expect(entries(file).map((e) => e.log)).toEqual(['line 18\n', 'line 19\n']);
    expect(text(await collect(file))).toEqual([12, 13, 14, 15, 16, 17, 18, 19].map((i) => `line ${i}\n`));
    // tail reaches back across rotated files
    expect(text(await collect(file, { tail: 4 }))).toEqual(['line 16\n', 'line 17\n', 'line 18\n', 'line 19\n']);
    expect(text(await collect(file, { tail: 7 }))).toEqual([13, 14, 15, 16, 17, 18, 19].map((i) => `line ${i}\n`));
    expect(text(await collect(file, { tail: 100 }))).toHaveLength(8);
    expect(await collect(file, { tail: 0 })).toEqual([]);
  });

  it('truncates in place with max-file 1', async () => {
    const w = new JsonFileWriter(file, { maxSize: 200, now: ticking() });
    for (let i = 0; i < 10; i++) w.write('stdout', Buffer.from(`line ${i}\n`));
    w.close();
    expect(fs.readdirSync(path.dirname(file))).toEqual(['c1-json.log']);
    expect(text(await collect(file)).at(-1)).toBe('line 9\n');
    expect(fs.statSync(file).size).toBeLessThan(300);
  });
});

describe('readLogs', () => {
  function writeLines(n: number, clock = ticking()): void {
    const w = new JsonFileWriter(file, { now: clock });
    for (let i = 1; i <= n; i++) w.write(i % 3 === 0 ? 'stderr' : 'stdout', Buffer.from(`line ${i}\n`));
    w.close();
  }

  it('filters streams, since and until, and prefixes timestamps', async () => {
    writeLines(9); // line i at T0 + i s
    expect(text(await collect(file, { stderr: false }))).toEqual([1, 2, 4, 5, 7, 8].map((i) => `line ${i}\n`));
    expect(text(await collect(file, { stdout: false }))).toEqual(['line 3\n', 'line 6\n', 'line 9\n']);
    const at = (s: number): Date => new Date(Number((T0 + BigInt(s) * SEC) / 1_000_000n));
    expect(text(await collect(file, { since: at(7) }))).toEqual(['line 7\n', 'line 8\n', 'line 9\n']);
    expect(text(await collect(file, { since: at(2), until: at(4) }))).toEqual(['line 2\n', 'line 3\n', 'line 4\n']);
    const [m] = await collect(file, { tail: 1, timestamps: true });
    expect(m!.line.toString()).toBe('2023-11-14T22:13:29.000000000Z line 9\n');
    expect(m!.time.toISOString()).toBe('2023-11-14T22:13:29.000Z');
    expect(m!.stream).toBe('stderr');
  });

  it('tails from the end without reading the rest of the file', async () => {
    // an 8 GiB hole (sparse) before the entries: reading it all would take far longer than the test
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, '');
    fs.truncateSync(file, 8 * 1024 ** 3);
    writeLines(20_000);
    const t = Date.now();
    expect(text(await collect(file, { tail: 3 }))).toEqual(['line 19998\n', 'line 19999\n', 'line 20000\n']);
    expect(Date.now() - t).toBeLessThan(1000);
    // the scan itself, over block boundaries
    const fd = fs.openSync(file, 'r');
    const size = fs.fstatSync(fd).size;
    const { start, found } = tailStart(fd, size, 5000);
    const tailBuf = Buffer.alloc(size - start);
    fs.readSync(fd, tailBuf, 0, tailBuf.length, start);
    fs.closeSync(fd);
    expect(found).toBe(5000);
    const lines = tailBuf.toString().split('\n').filter(Boolean);
    expect(lines).toHaveLength(5000);
    expect(JSON.parse(lines[0]!)).toMatchObject({ log: 'line 15001\n' });
  });

  it('skips the entry being written and a missing file', async () => {
    writeLines(2);
    fs.appendFileSync(file, '{"log":"torn');
    expect(text(await collect(file))).toEqual(['line 1\n', 'line 2\n']);
    expect(text(await collect(file, { tail: 1 }))).toEqual(['line 2\n']);
    expect(await collect(path.join(dir, 'nope.log'))).toEqual([]);
  });
});

describe('readLogs follow', () => {
  const next = async (it: AsyncIterator<LogMessage>): Promise<string> => {
    const r = await it.next();
    return r.done ? '<done>' : r.value.line.toString();
  };

  it('sees appended lines and stops on abort', async () => {
    const w = new JsonFileWriter(file);
    w.write('stdout', Buffer.from('before\n'));
    const ac = new AbortController();
    const it = readLogs(file, { ...ALL, follow: true, tail: 1, signal: ac.signal })[Symbol.asyncIterator]();
    expect(await next(it)).toBe('before\n');
    setTimeout(() => w.write('stdout', Buffer.from('after 1\nafter 2\n')), 50);
    expect(await next(it)).toBe('after 1\n');
    expect(await next(it)).toBe('after 2\n');
    const t = Date.now();
    setTimeout(() => ac.abort(), 50);
    expect(await next(it)).toBe('<done>');
    expect(Date.now() - t).toBeLessThan(1000);
    w.close();
  });

  it('drains the file and ends once the container stopped', async () => {
    const w = new JsonFileWriter(file);
    let stop!: () => void;
    const stopped = new Promise<void>((r) => (stop = r));
    const got: string[] = [];
    const done = (async () => {
      for await (const m of readLogs(file, { ...ALL, follow: true, tail: 'all', stopped, pollMs: 5000 })) got.push(m.line.toString());
    })();
    await new Promise((r) => setTimeout(r, 50));
    w.write('stdout', Buffer.from('a\n'));
    w.write('stderr', Buffer.from('partial'));
    w.close(); // the container's output ended: the partial line is written
    stop();
    await done;
    expect(got).toEqual(['a\n', 'partial']);
  });

  it('follows through rotations and a log file that appears late', async () => {
    const ac = new AbortController();
    const got: string[] = [];
    const done = (async () => {
      for await (const m of readLogs(file, { ...ALL, follow: true, tail: 0, signal: ac.signal, pollMs: 20 })) {
        got.push(m.line.toString());
        if (got.length === 30) ac.abort();
      }
    })();
    await new Promise((r) => setTimeout(r, 50));
    const w = new JsonFileWriter(file, { maxSize: 300, maxFile: 5 });
    for (let i = 0; i < 30; i++) {
      w.write('stdout', Buffer.from(`n${i}\n`));
      // the next line once the follower has this one: a writer that outran it by maxFile files
      // would rotate lines away before they were read (a busy machine, not a bug)
      const deadline = Date.now() + 10000;
      while (got.length <= i && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      if (got.length <= i) {
        ac.abort(); // lost: end here, the comparison below shows which
        break;
      }
    }
    await done;
    w.close();
    expect(fs.existsSync(`${file}.2`)).toBe(true);
    expect(got).toEqual(Array.from({ length: 30 }, (_, i) => `n${i}\n`));
  });

  it('ends at until', async () => {
    const w = new JsonFileWriter(file);
    w.write('stdout', Buffer.from('x\n'));
    const t = Date.now();
    const got = await collect(file, { follow: true, until: new Date(Date.now() + 200) });
    expect(text(got)).toEqual(['x\n']);
    expect(Date.now() - t).toBeGreaterThanOrEqual(150);
    w.close();
  });
});
