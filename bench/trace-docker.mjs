// What bench/trace-run.mjs and bench/trace-exec.mjs share: timing docker CLI runs on the clock the
// traced processes write, merging the trace files of the median run into one Chrome trace document
// (with a track for the CLI's whole run), and the table of its longest phases.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

/** Wall-clock microseconds, the clock every traced process writes. */
export const wallUs = () => Math.round((performance.timeOrigin + performance.now()) * 1000);

/** Run the docker CLI; resolves with its pid (throws on failure). */
export function docker(env, args) {
  return new Promise((res, rej) => {
    const c = spawn('docker', args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (d) => (err += d));
    c.on('error', rej);
    c.on('exit', (code) => (code === 0 ? res(c.pid) : rej(new Error(`docker ${args.join(' ')}: exit ${code}: ${err.trim()}`))));
  });
}

/** `runs` timed runs of `docker args`, one after the other: [{ from, to, cliPid }] (wall-clock µs). */
export async function timedRuns(env, args, runs) {
  const out = [];
  for (let i = 0; i < runs; i++) {
    const from = wallUs();
    const cliPid = await docker(env, args);
    out.push({ from, to: wallUs(), cliPid });
  }
  return out;
}

/**
 * Each X event's self time: its duration less that of the spans directly inside it on the same
 * lane (pid and tid), where the tracer puts a span's children.
 */
function selfTimes(events) {
  const self = new Map();
  const lanes = new Map();
  for (const e of events) {
    if (e.ph !== 'X') continue;
    const k = `${e.pid}/${e.tid}`;
    if (!lanes.has(k)) lanes.set(k, []);
    lanes.get(k).push(e);
  }
  for (const lane of lanes.values()) {
    lane.sort((a, b) => a.ts - b.ts || b.dur - a.dur);
    const open = [];
    for (const e of lane) {
      while (open.length && open[open.length - 1].ts + open[open.length - 1].dur <= e.ts) open.pop();
      const parent = open[open.length - 1];
      if (parent) self.set(parent, self.get(parent) - e.dur);
      self.set(e, e.dur);
      open.push(e);
    }
  }
  return self;
}

/** The longest spans by name (summed when a name occurs more than once), with their process. */
function topPhases(events, total, n) {
  const self = selfTimes(events);
  const procName = new Map(events.filter((e) => e.name === 'process_name').map((e) => [e.pid, String(e.args.name).split(' ')[0]]));
  const by = new Map();
  for (const e of events) {
    if (e.ph !== 'X') continue;
    const k = `${procName.get(e.pid) ?? e.pid}\0${e.name}`;
    const v = by.get(k) ?? { process: procName.get(e.pid) ?? String(e.pid), name: e.name, us: 0, selfUs: 0, count: 0 };
    v.us += e.dur;
    v.selfUs += Math.max(self.get(e), 0);
    v.count++;
    by.set(k, v);
  }
  return [...by.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, n)
    .map((v) => ({ ...v, ms: v.us / 1000, selfMs: v.selfUs / 1000, pct: (100 * v.us) / total }));
}

/**
 * Merges the trace files in `traceDir` over the median of `runs` (by length), adds the docker CLI's
 * track, writes the document to `out` and prints its `top` longest phases.
 */
export function reportMedianRun({ traceDir, runs, label, out, top }) {
  const { mergeTraceDir } = require(join(repo, 'packages', 'linux', 'dist', 'trace-merge.js'));
  const byLength = [...runs].sort((a, b) => a.to - a.from - (b.to - b.from));
  const { from, to, cliPid } = byLength[(byLength.length - 1) >> 1];
  const doc = mergeTraceDir(traceDir, { from, to });
  const total = to - from;
  // the CLI's own track: the whole run, as its user sees it
  doc.traceEvents.unshift(
    { name: 'process_name', ph: 'M', pid: cliPid, tid: 0, args: { name: `docker ${cliPid}` } },
    { name: 'process_sort_index', ph: 'M', pid: cliPid, tid: 0, args: { sort_index: 0 } },
    { name: label, cat: 'docker', ph: 'X', ts: from, dur: total, pid: cliPid, tid: 1 },
  );
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(doc)}\n`);
  const rows = topPhases(doc.traceEvents, total, top);
  for (const r of rows) r.label = r.count > 1 ? `${r.name} (x${r.count})` : r.name;
  const w = Math.max(...rows.map((r) => r.label.length), 10);
  console.log(`${'process'.padEnd(18)}${'phase'.padEnd(w + 2)}${'ms'.padStart(8)}${'% total'.padStart(9)}${'self ms'.padStart(9)}`);
  for (const r of rows)
    console.log(
      `${r.process.padEnd(18)}${r.label.padEnd(w + 2)}${r.ms.toFixed(1).padStart(8)}${r.pct.toFixed(1).padStart(9)}${r.selfMs.toFixed(1).padStart(9)}`,
    );
  const ms = runs.map((r) => ((r.to - r.from) / 1000).toFixed(0)).join(', ');
  console.log(`${label}: the median of ${runs.length} runs (${ms} ms), ${(total / 1000).toFixed(1)} ms`);
  console.log(`spans nest: ms includes the spans inside, self ms does not (an rpc.* span's self time is its wait on the callee); wrote ${out}`);
}
