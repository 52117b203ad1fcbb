/**
 * Docker's json-file log driver: `<data-root>/containers/<id>/<id>-json.log`, one JSON object a
 * line, `{"log":"...","stream":"stdout","time":"<RFC3339Nano>"}`, rotated by size to `.1`, `.2`, …
 * (oldest has the highest number). Written here, read back for `docker logs` and `attach logs=1`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { dirname } from 'node:path';
import { dateToNs, formatRfc3339Nano, nowNs, nsToDate, parseRfc3339Nano } from './time';

export type LogStream = 'stdout' | 'stderr';

/** Docker cuts a line that has no newline after this many bytes into a partial entry. */
export const MAX_LINE = 16 * 1024;
const BLOCK = 64 * 1024;
const NL = 0x0a;

export function jsonLogPath(dataRoot: string, id: string): string {
  return path.join(dataRoot, 'containers', id, `${id}-json.log`);
}

// ---------------------------------------------------------------------------------------------
// options

export interface JsonFileOptions {
  /** Rotate once the file reaches this many bytes; undefined or -1: never. */
  maxSize?: number;
  /** Files kept, the current one included (default 1: the file is truncated at max-size). */
  maxFile?: number;
  /** Mode of new log files (default 0o640, as Docker). */
  mode?: number;
  /** Clock in ns since the epoch (tests). */
  now?: () => bigint;
}

export class LogOptionError extends Error {}

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** "10m", "1.5g", "512k", "1024", "-1" -> bytes (binary multiples, as Docker's max-size). */
export function parseSize(s: string): number {
  if (s.trim() === '-1') return -1;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?\s*$/i.exec(s);
  if (!m) throw new LogOptionError(`invalid size: '${s}'`);
  return Math.floor(Number(m[1]) * UNITS[m[2]!.toLowerCase()]!);
}

/** Options accepted by the driver but not acted on yet (they only add "attrs" to entries). */
const ACCEPTED_IGNORED = new Set(['labels', 'labels-regex', 'env', 'env-regex', 'tag']);

/** `--log-opt` key=value pairs for json-file -> writer options; unknown or bad values throw. */
export function parseLogOpts(opts: Record<string, string>): JsonFileOptions {
  const out: JsonFileOptions = {};
  for (const [k, v] of Object.entries(opts)) {
    switch (k) {
      case 'max-size': {
        const n = parseSize(v);
        if (n === 0 || n < -1) throw new LogOptionError(`max-size must be a positive size or -1: '${v}'`);
        out.maxSize = n;
        break;
      }
      case 'max-file': {
        if (!/^\d+$/.test(v.trim())) throw new LogOptionError(`invalid max-file: '${v}'`);
        const n = Number(v);
        if (n < 1) throw new LogOptionError('max-file cannot be less than 1');
        out.maxFile = n;
        break;
      }
      case 'compress':
        if (!/^(true|false|1|0)$/i.test(v)) throw new LogOptionError(`invalid compress: '${v}'`);
        if (/^(true|1)$/i.test(v)) throw new LogOptionError('compress is not supported by this json-file driver yet');
        break;
      default:
        if (!ACCEPTED_IGNORED.has(k)) throw new LogOptionError(`unknown log opt '${k}' for json-file log driver`);
    }
  }
  if ((out.maxFile ?? 1) > 1 && (out.maxSize ?? -1) === -1) throw new LogOptionError('max-file cannot be greater than 1 when max-size is not set');
  return out;
}

// ---------------------------------------------------------------------------------------------
// writing

const HTML_UNSAFE = /[<>&\u2028\u2029]/g;

/** One log line as Docker writes it (Go's JSON escaping: <, >, &, U+2028/9 as \u escapes). */
export function encodeEntry(stream: LogStream, log: Buffer, timeNs: bigint): Buffer {
  const str = JSON.stringify(log.toString('utf8')).replace(HTML_UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return Buffer.from(`{"log":${str},"stream":"${stream}","time":"${formatRfc3339Nano(timeNs)}"}\n`, 'utf8');
}

/**
 * Appends a container's output to its json log: chunks are split into lines, a line without a
 * newline is held until it gets one, reaches MAX_LINE bytes, or the stream ends (then written
 * without a trailing "\n", as Docker's partial entries). Writes are synchronous, one per chunk,
 * so entries of stdout and stderr keep the order they were read in.
 */
export class JsonFileWriter {
  private fd: number | undefined;
  private size: number;
  private readonly pending: Record<LogStream, Buffer> = { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) };
  private readonly maxSize: number;
  private readonly maxFile: number;
  private readonly mode: number;
  private readonly now: () => bigint;

  constructor(
    readonly path: string,
    opts: JsonFileOptions = {},
  ) {
    this.maxSize = opts.maxSize ?? -1;
    this.maxFile = Math.max(1, opts.maxFile ?? 1);
    this.mode = opts.mode ?? 0o640;
    this.now = opts.now ?? nowNs;
    fs.mkdirSync(dirname(path), { recursive: true, mode: 0o710 });
    this.fd = this.openFile(false);
    this.size = fs.fstatSync(this.fd).size;
  }

  /** Take a chunk of `stream`'s output. */
  write(stream: LogStream, chunk: Buffer): void {
    if (chunk.length === 0) return;
    const time = this.now();
    let data = this.pending[stream].length ? Buffer.concat([this.pending[stream], chunk]) : chunk;
    const out: Buffer[] = [];
    for (;;) {
      const nl = data.indexOf(NL);
      if (nl >= 0 && nl < MAX_LINE) {
        out.push(encodeEntry(stream, data.subarray(0, nl + 1), time));
        data = data.subarray(nl + 1);
      } else if (data.length >= MAX_LINE) {
        out.push(encodeEntry(stream, data.subarray(0, MAX_LINE), time));
        data = data.subarray(MAX_LINE);
      } else break;
    }
    this.pending[stream] = Buffer.from(data);
    this.append(out);
  }

  /** Write held partial lines (of one stream, or both) without a trailing newline. */
  flush(stream?: LogStream): void {
    const out: Buffer[] = [];
    for (const s of stream ? [stream] : (['stdout', 'stderr'] as const)) {
      if (this.pending[s].length === 0) continue;
      out.push(encodeEntry(s, this.pending[s], this.now()));
      this.pending[s] = Buffer.alloc(0);
    }
    this.append(out);
  }

  /** Copy a whole stream into the log; its last partial line is flushed at the end. */
  async consume(source: AsyncIterable<Buffer | string>, stream: LogStream): Promise<void> {
    try {
      for await (const c of source) this.write(stream, typeof c === 'string' ? Buffer.from(c) : c);
    } finally {
      this.flush(stream);
    }
  }

  /** Flush partials and close the file. */
  close(): void {
    if (this.fd === undefined) return;
    this.flush();
    fs.closeSync(this.fd);
    this.fd = undefined;
  }

  private append(entries: Buffer[]): void {
    if (entries.length === 0) return;
    if (this.fd === undefined) throw new Error(`log file ${this.path} is closed`);
    let batch: Buffer[] = [];
    let batchSize = 0;
    const writeBatch = (): void => {
      if (batch.length === 0) return;
      writeAll(this.fd!, Buffer.concat(batch, batchSize));
      this.size += batchSize;
      batch = [];
      batchSize = 0;
    };
    for (const e of entries) {
      // as Docker: rotate before an entry once the file has reached max-size
      if (this.maxSize > 0 && this.size + batchSize >= this.maxSize) {
        writeBatch();
        this.rotate();
      }
      batch.push(e);
      batchSize += e.length;
    }
    writeBatch();
  }

  private rotate(): void {
    fs.closeSync(this.fd!);
    this.fd = undefined;
    if (this.maxFile >= 2) {
      for (let i = this.maxFile - 1; i > 1; i--) renameIfExists(`${this.path}.${i - 1}`, `${this.path}.${i}`);
      renameIfExists(this.path, `${this.path}.1`);
    }
    this.fd = this.openFile(true);
    this.size = 0;
  }

  private openFile(truncate: boolean): number {
    const c = fs.constants;
    return fs.openSync(this.path, c.O_WRONLY | c.O_APPEND | c.O_CREAT | (truncate ? c.O_TRUNC : 0), this.mode);
  }
}

function writeAll(fd: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off);
}

function renameIfExists(from: string, to: string): void {
  try {
    fs.renameSync(from, to);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// reading

export interface ReadLogsOptions {
  stdout: boolean;
  stderr: boolean;
  /** Keep going as the file grows, until `signal` fires, `stopped` resolves and the file is drained, or `until` passes. */
  follow: boolean;
  /** The last N entries (counted over both streams, as Docker) or all (also for N < 0). */
  tail: number | 'all';
  since?: Date;
  until?: Date;
  /** Prefix each line with its time, RFC 3339 with 9 fraction digits and a space (`docker logs -t`). */
  timestamps: boolean;
  signal?: AbortSignal;
  /** Resolves once the container stopped and its last output was written to the log. */
  stopped?: Promise<void>;
  /** Polling interval when following (fs.watch wakes the reader earlier when it works). Default 250 ms. */
  pollMs?: number;
}

export interface LogMessage {
  stream: LogStream;
  /** The logged bytes (with their "\n" unless partial), prefixed with the time when `timestamps`. */
  line: Buffer;
  time: Date;
  /** RFC 3339 with 9 fraction digits, UTC. */
  timestamp: string;
  /** The entry has no trailing newline (a long line cut at 16 KiB, or the stream's last bytes). */
  partial: boolean;
}

interface RawEntry {
  log?: unknown;
  stream?: unknown;
  time?: unknown;
}

/** Existing log files, oldest first: `<p>.N`, …, `<p>.1`, `<p>`. */
function logFiles(p: string): string[] {
  const rotated: string[] = [];
  for (let i = 1; fs.existsSync(`${p}.${i}`); i++) rotated.push(`${p}.${i}`);
  return [...rotated.reverse(), p];
}

function openRead(p: string): number | undefined {
  try {
    return fs.openSync(p, fs.constants.O_RDONLY);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/**
 * Where the last `n` complete lines of an fd's first `size` bytes start, scanning blocks backwards
 * from the end; `found` < n when the file has fewer. Bytes after the last "\n" (an entry being
 * written) are not a line.
 */
export function tailStart(fd: number, size: number, n: number): { start: number; found: number } {
  if (n <= 0) return { start: size, found: 0 };
  const buf = Buffer.alloc(BLOCK);
  let newlines = 0;
  let pos = size;
  while (pos > 0) {
    const len = Math.min(BLOCK, pos);
    pos -= len;
    const got = fs.readSync(fd, buf, 0, len, pos);
    for (let i = got - 1; i >= 0; i--) {
      if (buf[i] !== NL) continue;
      newlines++;
      // the (n+1)th newline from the end closes the line before the n lines we want
      if (newlines === n + 1) return { start: pos + i + 1, found: n };
    }
  }
  return { start: 0, found: newlines };
}

/** Reads complete lines from an fd, from an offset, to its current end; remembers where it stopped. */
class LineReader {
  private rest: Buffer = Buffer.alloc(0);
  private readonly buf = Buffer.alloc(BLOCK);

  constructor(
    readonly fd: number,
    public pos: number,
  ) {}

  /** Complete lines available now (without their "\n"). */
  *lines(): Generator<Buffer> {
    for (;;) {
      const got = fs.readSync(this.fd, this.buf, 0, BLOCK, this.pos);
      if (got === 0) return;
      this.pos += got;
      let data = this.rest.length ? Buffer.concat([this.rest, this.buf.subarray(0, got)]) : this.buf.subarray(0, got);
      let nl: number;
      while ((nl = data.indexOf(NL)) >= 0) {
        yield Buffer.from(data.subarray(0, nl));
        data = data.subarray(nl + 1);
      }
      this.rest = Buffer.from(data);
    }
  }

  /** The file was truncated in place: start over. */
  reset(): void {
    this.pos = 0;
    this.rest = Buffer.alloc(0);
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}

/** Wakes a waiting reader; a notify with nobody waiting is remembered. */
class Waker {
  private flag = false;
  private wake: (() => void) | undefined;
  notify = (): void => {
    this.flag = true;
    this.wake?.();
  };
  wait(): Promise<void> {
    if (this.flag) {
      this.flag = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.wake = () => {
        this.wake = undefined;
        this.flag = false;
        resolve();
      };
    });
  }
}

/**
 * A container's log as messages, oldest first: rotated files then the current one, the last
 * `tail` entries, within since/until, of the chosen streams; with `follow`, new entries as they
 * are written (through rotations) until stopped.
 */
export async function* readLogs(logPath: string, opts: ReadLogsOptions): AsyncGenerator<LogMessage> {
  const since = opts.since ? dateToNs(opts.since) : undefined;
  const until = opts.until ? dateToNs(opts.until) : undefined;
  const readers: LineReader[] = [];
  const cleanup: (() => void)[] = [];
  let done = false;

  // message for one stored line, undefined when filtered out; sets `done` past `until`
  const decode = (raw: Buffer): LogMessage | undefined => {
    if (raw.length === 0) return undefined;
    let e: RawEntry;
    try {
      e = JSON.parse(raw.toString('utf8')) as RawEntry;
    } catch {
      return undefined; // a torn or corrupt line: skip it
    }
    if (typeof e.log !== 'string' || (e.stream !== 'stdout' && e.stream !== 'stderr') || typeof e.time !== 'string') return undefined;
    const ns = parseRfc3339Nano(e.time);
    if (ns === undefined) return undefined;
    if (until !== undefined && ns > until) {
      done = true;
      return undefined;
    }
    if (since !== undefined && ns < since) return undefined;
    if (e.stream === 'stdout' ? !opts.stdout : !opts.stderr) return undefined;
    const timestamp = formatRfc3339Nano(ns, true);
    const log = Buffer.from(e.log, 'utf8');
    return {
      stream: e.stream,
      line: opts.timestamps ? Buffer.concat([Buffer.from(`${timestamp} `), log]) : log,
      time: nsToDate(ns),
      timestamp,
      partial: !e.log.endsWith('\n'),
    };
  };

  try {
    // open every file first so a rotation while we read does not shift them under us
    const files = logFiles(logPath);
    const fds = files.map(openRead);
    const opened: { fd: number; size: number; current: boolean }[] = [];
    fds.forEach((fd, i) => {
      if (fd !== undefined) opened.push({ fd, size: fs.fstatSync(fd).size, current: i === files.length - 1 });
    });
    // where to start: the whole history, or the last `tail` lines found scanning backwards
    let first = 0;
    const starts = opened.map(() => 0);
    if (opts.tail !== 'all' && opts.tail >= 0) {
      let need = opts.tail;
      first = opened.length;
      for (let i = opened.length - 1; i >= 0; i--) {
        const { start, found } = tailStart(opened[i]!.fd, opened[i]!.size, need);
        starts[i] = start;
        first = i;
        need -= found;
        if (need <= 0) break;
      }
      if (opened.length > 0 && first === opened.length) first = opened.length - 1;
    }
    for (let i = 0; i < opened.length; i++) {
      if (i < first) fs.closeSync(opened[i]!.fd);
      else readers.push(new LineReader(opened[i]!.fd, starts[i]!));
    }
    const current = opened.length > 0 && opened[opened.length - 1]!.current ? readers[readers.length - 1] : undefined;
    for (const r of current ? readers.slice(0, -1) : readers.slice()) {
      for (const raw of r.lines()) {
        const m = decode(raw);
        if (done || opts.signal?.aborted) return;
        if (m) yield m;
      }
      readers.splice(readers.indexOf(r), 1);
      r.close();
    }
    if (!opts.follow) {
      if (current)
        for (const raw of current.lines()) {
          const m = decode(raw);
          if (done || opts.signal?.aborted) return;
          if (m) yield m;
        }
      return;
    }
    yield* follow(logPath, current, opts, decode, () => done, cleanup, readers);
  } finally {
    for (const c of cleanup) c();
    for (const r of readers) r.close();
  }
}

function nextFile(logPath: string, ours: fs.Stats): string {
  for (let i = 1; ; i++) {
    const st = fs.statSync(`${logPath}.${i}`, { throwIfNoEntry: false });
    if (!st) return logPath;
    if (st.ino === ours.ino && st.dev === ours.dev) return i === 1 ? logPath : `${logPath}.${i - 1}`;
  }
}

async function* follow(
  logPath: string,
  start: LineReader | undefined,
  opts: ReadLogsOptions,
  decode: (raw: Buffer) => LogMessage | undefined,
  isDone: () => boolean,
  cleanup: (() => void)[],
  readers: LineReader[],
): AsyncGenerator<LogMessage> {
  const waker = new Waker();
  let stopped = false;
  let cur = start;
  const signal = opts.signal;
  if (signal) {
    signal.addEventListener('abort', waker.notify);
    cleanup.push(() => signal.removeEventListener('abort', waker.notify));
  }
  void opts.stopped?.then(
    () => {
      stopped = true;
      waker.notify();
    },
    () => {
      stopped = true;
      waker.notify();
    },
  );
  if (opts.until) {
    const ms = opts.until.getTime() - Date.now();
    const t = setTimeout(
      () => {
        stopped = true;
        waker.notify();
      },
      Math.max(0, ms),
    );
    cleanup.push(() => clearTimeout(t));
  }
  try {
    const base = path.basename(logPath);
    const w = fs.watch(path.dirname(logPath), { persistent: false }, (_ev, name) => {
      if (!name || String(name).startsWith(base)) waker.notify();
    });
    w.on('error', () => undefined); // polling carries on
    cleanup.push(() => w.close());
  } catch {
    // no inotify (or the directory is missing): polling only
  }
  const poll = setInterval(waker.notify, opts.pollMs ?? 250);
  cleanup.push(() => clearInterval(poll));

  for (;;) {
    if (signal?.aborted) return;
    const finalPass = stopped;
    if (cur) {
      for (const raw of cur.lines()) {
        const m = decode(raw);
        if (isDone() || signal?.aborted) return;
        if (m) yield m;
      }
    }
    // rotated (another inode at the path) or truncated (max-file 1)?
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(logPath);
    } catch {
      st = undefined;
    }
    if (st) {
      const ours = cur ? fs.fstatSync(cur.fd) : undefined;
      if (!ours || ours.ino !== st.ino || ours.dev !== st.dev) {
        // the file after ours: `.k-1` if ours is now `.k` (several rotations since we looked), else the current one
        const fd = openRead(ours ? nextFile(logPath, ours) : logPath);
        if (fd !== undefined) {
          if (cur) {
            // the writer closed our file before renaming it: what it wrote last is there now
            for (const raw of cur.lines()) {
              const m = decode(raw);
              if (isDone() || signal?.aborted) return;
              if (m) yield m;
            }
            readers.splice(readers.indexOf(cur), 1);
            cur.close();
          }
          cur = new LineReader(fd, 0);
          readers.push(cur);
          continue;
        }
      } else if (st.size < cur!.pos) {
        cur!.reset();
        continue;
      }
    }
    if (finalPass) return;
    await waker.wait();
  }
}
