/**
 * Start-up tracing across processes: gantryd, gantry-containerd, the shims, the runtime and its
 * init stage each append Chrome trace events ("X" complete events, wall-clock microseconds, so the
 * processes line up) to a file of their own in `GANTRY_TRACE=<absolute dir>`, one JSON object per
 * line: a process killed mid-write leaves at worst one broken last line, which `mergeTraceDir`
 * (trace-merge.ts) skips when it builds the `{"traceEvents": [...]}` document Perfetto opens.
 *
 * Off (the variable unset, or not an absolute path), every call is a boolean check and returns a
 * shared no-op: no module loaded, no allocation. The fs and async_hooks modules are only required
 * when tracing, because the init stage pays for every module it loads.
 *
 * Nesting: `traced(name, fn)` runs fn as the current span (AsyncLocalStorage), so spans begun
 * inside it, synchronously or after awaits, are its children. Spans are laid out on lanes (the
 * event's tid): a child goes on its parent's lane while the parent is the innermost open span
 * there, anything else (concurrent requests, a span that outlives its parent) on the first free
 * lane, so every lane nests properly and the viewer draws it as a flame graph.
 */
import type { AsyncLocalStorage } from 'node:async_hooks';

/** Values a span or mark can carry (shown in the viewer's details pane). */
export type TraceArgs = Record<string, string | number | boolean | undefined>;

export interface Span {
  /** Ends the span (once; later calls do nothing), adding `args` to those it began with. */
  end(args?: TraceArgs): void;
}

/** The environment variable that turns tracing on and names the directory of the per-process files. */
export const TRACE_ENV = 'GANTRY_TRACE';

const NO_SPAN: Span = { end: () => undefined };

interface Open extends Span {
  readonly name: string;
  readonly ts: number;
  readonly lane: number;
  args: TraceArgs | undefined;
  ended: boolean;
}

interface State {
  dir: string;
  fd: number;
  pid: number;
  lanes: Open[][];
  context: AsyncLocalStorage<Open>;
  now: () => number;
  /** When Node started this process, in the same microseconds. */
  origin: number;
  write: (fd: number, line: string) => void;
}

let dir = traceDirOf(process.env[TRACE_ENV]);
let state: State | undefined;

function traceDirOf(v: string | undefined): string | undefined {
  return v !== undefined && v.startsWith('/') ? v : undefined;
}

/** Whether this process traces (GANTRY_TRACE names an absolute directory). */
export function traceEnabled(): boolean {
  return dir !== undefined;
}

/**
 * The variable to hand to a child started with a scrubbed environment, so it traces too: `{}` when
 * off. (The runtime's init stage gets it this way; it never reaches the container's process.)
 */
export function traceEnv(): Record<string, string> {
  return dir === undefined ? {} : { [TRACE_ENV]: dir };
}

/**
 * Names this process's track (`gantryd`, `gantry-shim`, ...) and opens its file now: a process
 * that will lose sight of the directory (the init stage, after pivot_root) must call it first.
 * `pid` replaces process.pid where that is not the host's (pid 1 of a container's namespace).
 * Tracing stays off for this process if the file cannot be opened.
 */
export function traceProcess(name: string, pid?: number): void {
  if (dir === undefined || state) return;
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- only when tracing (see above)
  const fs = require('node:fs') as typeof import('node:fs');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { AsyncLocalStorage: Als } = require('node:async_hooks') as typeof import('node:async_hooks');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { performance } = require('node:perf_hooks') as typeof import('node:perf_hooks');
  const hostPid = pid ?? process.pid;
  let fd: number;
  try {
    fs.mkdirSync(dir, { recursive: true });
    // O_APPEND: whole lines land whole even if the file is truncated under us; Node opens with
    // O_CLOEXEC, so an execve (the init stage becoming the container's process) closes it.
    fd = fs.openSync(`${dir}/${name}-${hostPid}.jsonl`, 'a', 0o600);
  } catch {
    dir = undefined;
    return;
  }
  const origin = performance.timeOrigin;
  state = {
    dir,
    fd,
    pid: hostPid,
    lanes: [],
    context: new Als<Open>(),
    now: () => Math.round((origin + performance.now()) * 1000),
    origin: Math.round(origin * 1000),
    write: (f, line) => {
      try {
        fs.writeSync(f, line);
      } catch {
        // a full disk or a closed fd must not fail the container
      }
    },
  };
  emit({ name: 'process_name', ph: 'M', pid: hostPid, tid: 0, args: { name: `${name} ${hostPid}` } });
}

/** The fd of this process's trace file, which must survive a close-everything-else (the init stage's). */
export function traceFd(): number | undefined {
  return state?.fd;
}

function ensure(): State | undefined {
  if (!state && dir !== undefined) traceProcess(processNameOf(process.argv[1]));
  return state;
}

function processNameOf(script: string | undefined): string {
  const base = script
    ?.split('/')
    .pop()
    ?.replace(/\.[cm]?js$/, '');
  return base && base !== 'main' ? base : 'node';
}

function emit(ev: Record<string, unknown>): void {
  const s = state!;
  s.write(s.fd, `${JSON.stringify(ev)}\n`);
}

/** Begins a span; end it with `.end()`. Its parent is the `traced` span this runs inside, if any. */
export function span(name: string, args?: TraceArgs): Span {
  if (dir === undefined) return NO_SPAN;
  const s = ensure();
  return s ? begin(s, name, args) : NO_SPAN;
}

function begin(s: State, name: string, args: TraceArgs | undefined): Open {
  const parent = s.context.getStore();
  let lane = -1;
  if (parent && !parent.ended) {
    const stack = s.lanes[parent.lane]!;
    if (stack[stack.length - 1] === parent) lane = parent.lane;
  }
  if (lane < 0) {
    lane = s.lanes.findIndex((l) => l.length === 0);
    if (lane < 0) lane = s.lanes.push([]) - 1;
  }
  const open: Open = {
    name,
    ts: s.now(),
    lane,
    args,
    ended: false,
    end(more?: TraceArgs) {
      if (open.ended) return;
      open.ended = true;
      const stack = s.lanes[lane]!;
      const at = stack.lastIndexOf(open);
      if (at >= 0) stack.splice(at, 1);
      const all = more ? { ...open.args, ...more } : open.args;
      const ts = open.ts;
      emit({ name, cat: name.split('.')[0], ph: 'X', ts, dur: Math.max(s.now() - ts, 0), pid: s.pid, tid: lane + 1, ...(all ? { args: all } : {}) });
    },
  };
  s.lanes[lane]!.push(open);
  return open;
}

/**
 * Runs `fn` inside a span, as the parent of the spans begun within it; a promise ends the span
 * when it settles (a rejection is recorded in the span's args and passed on untouched).
 */
export function traced<T>(name: string, fn: () => T, args?: TraceArgs): T {
  if (dir === undefined) return fn();
  const s = ensure();
  if (!s) return fn();
  const open = begin(s, name, args);
  let out: T;
  try {
    out = s.context.run(open, fn);
  } catch (e) {
    open.end({ error: errorText(e) });
    throw e;
  }
  if (out instanceof Promise) {
    out.then(
      () => open.end(),
      (e: unknown) => open.end({ error: errorText(e) }),
    );
  } else {
    open.end();
  }
  return out;
}

/** A span from the moment Node started this process until now: what loading it cost (`stage.boot`). */
export function traceBoot(name: string): void {
  if (dir === undefined) return;
  const s = ensure();
  if (!s) return;
  emit({ name, cat: name.split('.')[0], ph: 'X', ts: s.origin, dur: Math.max(s.now() - s.origin, 0), pid: s.pid, tid: 1 });
}

/** A point in time (an "i" event) on this process's track: a milestone with no duration. */
export function traceMark(name: string, args?: TraceArgs): void {
  if (dir === undefined) return;
  const s = ensure();
  if (!s) return;
  emit({ name, cat: name.split('.')[0], ph: 'i', s: 't', ts: s.now(), pid: s.pid, tid: 1, ...(args ? { args } : {}) });
}

function errorText(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).slice(0, 200);
}

/**
 * For tests: trace into `to` (or stop tracing: undefined), as if GANTRY_TRACE had said so at
 * start-up. Closes the current file.
 */
export function setTraceDir(to: string | undefined): void {
  if (state) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    (require('node:fs') as typeof import('node:fs')).closeSync(state.fd);
  }
  state = undefined;
  dir = traceDirOf(to);
}
