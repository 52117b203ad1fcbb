#!/usr/bin/env node
// Where a `docker run --rm busybox true` spends its time, across every layer: starts a private
// gantryd (and the gantry-containerd it runs) with GANTRY_TRACE=<dir>, so gantryd, gantry-containerd,
// the shim, the runtime and the container's init stage each append Chrome trace events to a file of
// their own there; runs the command once to warm up, then --runs times (5) one after the other;
// merges the events of the run of median length (mergeTraceDir of @gantry/linux, over that run's
// time window) into one document with a track for the docker CLI's whole run, and prints its
// longest phases.
//
//   node bench/trace-run.mjs [--runs N] [--out FILE] [--top N] [--network none|bridge]
//
// Writes bench/results/trace-run.json: open it in https://ui.perfetto.dev or chrome://tracing.
// Needs root and a build (npm run build). The e2e harness (e2e/src/gantryd.ts) is transpiled on the
// fly as bench/engine.mjs does, and the daemon is stopped at the end.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { loadHarness } from './harness.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

function parseArgs(argv) {
  const o = { out: join(repo, 'bench', 'results', 'trace-run.json'), runs: 5, top: 15, network: 'bridge' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--out') o.out = resolve(argv[++i]);
    else if (a === '--top') o.top = Number(argv[++i]);
    else if (a === '--runs') o.runs = Number(argv[++i]);
    else if (a === '--network') o.network = argv[++i];
    else {
      console.error('usage: node bench/trace-run.mjs [--runs N] [--out FILE] [--top N] [--network none|bridge]');
      process.exit(a === '-h' || a === '--help' ? 0 : 2);
    }
  }
  if (!Number.isInteger(o.top) || o.top < 1) throw new Error('--top wants a positive integer');
  if (!Number.isInteger(o.runs) || o.runs < 1) throw new Error('--runs wants a positive integer');
  if (!['none', 'bridge'].includes(o.network)) throw new Error('--network wants none or bridge');
  return o;
}

/** Wall-clock microseconds, the clock every traced process writes. */
const wallUs = () => Math.round((performance.timeOrigin + performance.now()) * 1000);

/** Run the docker CLI; resolves with its pid (throws on failure). */
function docker(env, args) {
  return new Promise((res, rej) => {
    const c = spawn('docker', args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (d) => (err += d));
    c.on('error', rej);
    c.on('exit', (code) => (code === 0 ? res(c.pid) : rej(new Error(`docker ${args.join(' ')}: exit ${code}: ${err.trim()}`))));
  });
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

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error('run as root');
  const { mergeTraceDir } = require(join(repo, 'packages', 'linux', 'dist', 'trace-merge.js'));
  const tmp = mkdtempSync(join(tmpdir(), 'gantry-bench-trace-'));
  const traceDir = join(tmp, 'trace');
  // inherited by gantryd, and from it by gantry-containerd (which hands it to each shim)
  process.env.GANTRY_TRACE = traceDir;
  const { GantrydHarness } = loadHarness(tmp, 'gantryd');
  const g = await GantrydHarness.start('gtr-');
  const cmd = ['run', '--rm', ...(opts.network === 'none' ? ['--network', 'none'] : []), 'busybox', 'true'];
  const runs = [];
  try {
    const env = g.env();
    delete env.GANTRY_TRACE; // the docker CLI has no use for it
    await docker(env, ['load', '-i', g.makeBusyboxArchive()]);
    await docker(env, cmd); // warm-up: the first run loads what later ones find loaded
    for (let i = 0; i < opts.runs; i++) {
      const from = wallUs();
      const cliPid = await docker(env, cmd);
      runs.push({ from, to: wallUs(), cliPid });
    }
  } finally {
    await g.stop().catch(() => undefined);
  }
  const byLength = [...runs].sort((a, b) => a.to - a.from - (b.to - b.from));
  const { from, to, cliPid } = byLength[(byLength.length - 1) >> 1];
  let doc;
  try {
    doc = mergeTraceDir(traceDir, { from, to });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const total = to - from;
  const label = `docker ${cmd.join(' ')}`;
  // the CLI's own track: the whole run, as its user sees it
  doc.traceEvents.unshift(
    { name: 'process_name', ph: 'M', pid: cliPid, tid: 0, args: { name: `docker ${cliPid}` } },
    { name: 'process_sort_index', ph: 'M', pid: cliPid, tid: 0, args: { sort_index: 0 } },
    { name: label, cat: 'docker', ph: 'X', ts: from, dur: total, pid: cliPid, tid: 1 },
  );
  mkdirSync(dirname(opts.out), { recursive: true });
  writeFileSync(opts.out, `${JSON.stringify(doc)}\n`);
  const rows = topPhases(doc.traceEvents, total, opts.top);
  for (const r of rows) r.label = r.count > 1 ? `${r.name} (x${r.count})` : r.name;
  const w = Math.max(...rows.map((r) => r.label.length), 10);
  console.log(`${'process'.padEnd(18)}${'phase'.padEnd(w + 2)}${'ms'.padStart(8)}${'% total'.padStart(9)}${'self ms'.padStart(9)}`);
  for (const r of rows)
    console.log(
      `${r.process.padEnd(18)}${r.label.padEnd(w + 2)}${r.ms.toFixed(1).padStart(8)}${r.pct.toFixed(1).padStart(9)}${r.selfMs.toFixed(1).padStart(9)}`,
    );
  const ms = runs.map((r) => ((r.to - r.from) / 1000).toFixed(0)).join(', ');
  console.log(`${label}: the median of ${runs.length} runs (${ms} ms), ${(total / 1000).toFixed(1)} ms`);
  console.log(`spans nest: ms includes the spans inside, self ms does not (an rpc.* span's self time is its wait on the callee); wrote ${opts.out}`);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
