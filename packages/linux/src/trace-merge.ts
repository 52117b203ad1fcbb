import * as fs from 'node:fs';
import * as path from 'node:path';

/** One Chrome trace event as trace.ts writes it. */
export interface TraceEvent {
  name: string;
  ph: string;
  pid: number;
  tid: number;
  ts?: number;
  dur?: number;
  cat?: string;
  s?: string;
  args?: Record<string, unknown>;
}

export interface MergeOptions {
  /** Keep only events that begin at or after this wall-clock microsecond. */
  from?: number;
  /** Keep only events that begin at or before this wall-clock microsecond. */
  to?: number;
}

/** Tracks top to bottom in the order a request goes down the stack (Perfetto sorts by this index). */
const LAYERS = ['docker', 'gantryd', 'gantry-containerd', 'gantry-shim', 'gantry-runtime', 'gantry-stage'];

function isEvent(v: unknown): v is TraceEvent {
  if (typeof v !== 'object' || v === null) return false;
  const e = v as Record<string, unknown>;
  return typeof e.name === 'string' && typeof e.ph === 'string' && typeof e.pid === 'number' && typeof e.tid === 'number';
}

/** The events of one per-process file; a line cut short by a crash (or anything not an event) is skipped. */
export function readTraceFile(file: string): TraceEvent[] {
  const out: TraceEvent[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      continue;
    }
    if (isEvent(v)) out.push(v);
  }
  return out;
}

/**
 * The per-process files of a GANTRY_TRACE directory as one Chrome trace document
 * (`{"traceEvents": [...]}`), events sorted by time, processes named and ordered by layer. Processes
 * with no event in the window are left out.
 */
export function mergeTraceDir(dir: string, opts: MergeOptions = {}): { traceEvents: TraceEvent[] } {
  const meta: TraceEvent[] = [];
  const timed: TraceEvent[] = [];
  for (const f of fs.readdirSync(dir).sort()) {
    if (!f.endsWith('.jsonl')) continue;
    for (const e of readTraceFile(path.join(dir, f))) {
      if (e.ph === 'M') meta.push(e);
      else if (typeof e.ts === 'number' && (opts.from === undefined || e.ts >= opts.from) && (opts.to === undefined || e.ts <= opts.to)) timed.push(e);
    }
  }
  const pids = new Set(timed.map((e) => e.pid));
  const names = meta.filter((e) => pids.has(e.pid) && e.name === 'process_name');
  const order = names.map((e) => {
    const label = typeof e.args?.name === 'string' ? e.args.name : '';
    const layer = LAYERS.findIndex((l) => label === l || label.startsWith(`${l} `));
    return { name: 'process_sort_index', ph: 'M', pid: e.pid, tid: 0, args: { sort_index: layer < 0 ? LAYERS.length : layer } };
  });
  timed.sort((a, b) => a.ts! - b.ts! || (b.dur ?? 0) - (a.dur ?? 0));
  return { traceEvents: [...names, ...order, ...timed] };
}
