#!/usr/bin/env node
// Where a `docker pull` from a local registry spends its time: starts a private gantryd (and its
// gantry-containerd) with GANTRY_TRACE=<dir>, pushes a multi-layer image of random bytes
// (bench/layered-image.mjs) to a local docker-registry (@gantry/testkit's LocalRegistry), then
// removes it and pulls it back --runs times (3), removing it after each pull. The events of the run
// of median length are merged into one Chrome trace document (mergeTraceDir of @gantry/linux) with
// a track for the docker CLI's whole run, and a table of phases is printed: for each span name, how
// many, their summed time, the wall-clock time covered by at least one of them (concurrent spans
// overlap: covered < summed), and when the first began and the last ended, from the pull's start.
//
//   node bench/trace-pull.mjs [--runs N] [--layers N] [--layer-mb N] [--out FILE]
//
// Writes bench/results/trace-pull.json (open it in https://ui.perfetto.dev or chrome://tracing).
// Needs root, /usr/bin/docker-registry and a build (npm run build). Everything it starts is stopped.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { loadHarness } from './harness.mjs';
import { makeLayeredArchive } from './layered-image.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const USAGE = 'usage: node bench/trace-pull.mjs [--runs N] [--layers N] [--layer-mb N] [--out FILE]';

function parseArgs(argv) {
  const o = { out: join(repo, 'bench', 'results', 'trace-pull.json'), runs: 3, layers: 4, layerMb: 16 };
  const int = (flag, v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) {
      console.error(`${flag} wants a positive integer\n${USAGE}`);
      process.exit(2);
    }
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--out') o.out = resolve(argv[++i]);
    else if (a === '--runs') o.runs = int(a, argv[++i]);
    else if (a === '--layers') o.layers = int(a, argv[++i]);
    else if (a === '--layer-mb') o.layerMb = int(a, argv[++i]);
    else {
      console.error(USAGE);
      process.exit(a === '-h' || a === '--help' ? 0 : 2);
    }
  }
  return o;
}

/** Wall-clock microseconds, the clock every traced process writes. */
const wallUs = () => Math.round((performance.timeOrigin + performance.now()) * 1000);

/** Run the docker CLI; resolves with its pid and stdout (throws on failure). */
function docker(env, args) {
  return new Promise((res, rej) => {
    const c = spawn('docker', args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (err += d));
    c.on('error', rej);
    c.on('exit', (code) => (code === 0 ? res({ pid: c.pid, out }) : rej(new Error(`docker ${args.join(' ')}: exit ${code}: ${err.trim()}`))));
  });
}

/** CPU time (user + system, ms) a process has used; 0 when it is gone. */
function cpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10; // utime, stime in clock ticks of 10 ms
  } catch {
    return 0;
  }
}

/** The children of `pid` (their pids). */
function childrenOf(pid) {
  const out = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Microseconds covered by at least one of the intervals. */
function covered(intervals) {
  const s = [...intervals].sort((a, b) => a[0] - b[0]);
  let total = 0;
  let end = -Infinity;
  for (const [from, to] of s) {
    if (to <= end) continue;
    total += to - Math.max(from, end);
    end = to;
  }
  return total;
}

/** One row per process and span name, in the order the first of each began. */
function phases(events, from) {
  const procName = new Map(events.filter((e) => e.name === 'process_name').map((e) => [e.pid, String(e.args.name).split(' ')[0]]));
  const by = new Map();
  for (const e of events) {
    if (e.ph !== 'X') continue;
    const process = procName.get(e.pid) ?? String(e.pid);
    const k = `${process}\0${e.name}`;
    const v = by.get(k) ?? { process, name: e.name, count: 0, sumUs: 0, spans: [], first: Infinity, last: -Infinity };
    v.count++;
    v.sumUs += e.dur;
    v.spans.push([e.ts, e.ts + e.dur]);
    v.first = Math.min(v.first, e.ts);
    v.last = Math.max(v.last, e.ts + e.dur);
    by.set(k, v);
  }
  return [...by.values()]
    .sort((a, b) => a.first - b.first)
    .map((v) => ({
      process: v.process,
      phase: v.name,
      count: v.count,
      sumMs: Math.round(v.sumUs / 100) / 10,
      coveredMs: Math.round(covered(v.spans) / 100) / 10,
      startMs: Math.round((v.first - from) / 100) / 10,
      endMs: Math.round((v.last - from) / 100) / 10,
    }));
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error('run as root');
  const { mergeTraceDir } = require(join(repo, 'packages', 'linux', 'dist', 'trace-merge.js'));
  const { LocalRegistry } = require(join(repo, 'packages', 'testkit', 'dist', 'registry.js'));
  const tmp = mkdtempSync(join(tmpdir(), 'gantry-bench-trace-pull-'));
  const traceDir = join(tmp, 'trace');
  process.env.GANTRY_TRACE = traceDir; // inherited by gantryd and from it by gantry-containerd
  const runs = [];
  let g;
  let reg;
  try {
    const { GantrydHarness } = loadHarness(tmp, 'gantryd');
    g = await GantrydHarness.start('gtp-');
    reg = await LocalRegistry.start(join(tmp, 'registry'));
    const env = g.env();
    delete env.GANTRY_TRACE;
    const image = 'bench/layers:v1';
    const ref = `${reg.host}/bench/layers:v1`;
    const archive = makeLayeredArchive(join(tmp, 'image'), { layers: opts.layers, layerMb: opts.layerMb, name: image });
    await docker(env, ['load', '-i', archive]);
    await docker(env, ['tag', image, ref]);
    await docker(env, ['push', ref]);
    await docker(env, ['rmi', image, ref]);
    // CPU each daemon spends on a pull: gantryd, gantry-containerd (its child), the registry
    const procs = { gantryd: g.daemon.pid, 'gantry-containerd': childrenOf(g.daemon.pid)[0], registry: reg.proc?.pid };
    for (let i = 0; i < opts.runs; i++) {
      const cpu0 = Object.fromEntries(Object.entries(procs).map(([k, p]) => [k, cpuMs(p)]));
      const from = wallUs();
      const { pid, out } = await docker(env, ['pull', ref]);
      const cpu = Object.fromEntries(Object.entries(procs).map(([k, p]) => [k, cpuMs(p) - cpu0[k]]));
      runs.push({ from, to: wallUs(), cliPid: pid, cpu });
      if (/Already exists/.test(out)) throw new Error(`the pull found layers already there:\n${out}`);
      await docker(env, ['rmi', ref]);
    }
  } finally {
    await reg?.stop().catch(() => undefined);
    await g?.stop().catch(() => undefined);
  }
  const byLength = [...runs].sort((a, b) => a.to - a.from - (b.to - b.from));
  const { from, to, cliPid, cpu } = byLength[(byLength.length - 1) >> 1];
  let doc;
  try {
    doc = mergeTraceDir(traceDir, { from, to });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const total = to - from;
  const label = `docker pull (${opts.layers} x ${opts.layerMb} MB)`;
  doc.traceEvents.unshift(
    { name: 'process_name', ph: 'M', pid: cliPid, tid: 0, args: { name: `docker ${cliPid}` } },
    { name: 'process_sort_index', ph: 'M', pid: cliPid, tid: 0, args: { sort_index: 0 } },
    { name: label, cat: 'docker', ph: 'X', ts: from, dur: total, pid: cliPid, tid: 1 },
  );
  const rows = phases(doc.traceEvents, from).filter((r) => r.process !== 'docker');
  doc.phases = rows;
  doc.cpuMs = cpu;
  mkdirSync(dirname(opts.out), { recursive: true });
  writeFileSync(opts.out, `${JSON.stringify(doc)}\n`);
  const w = Math.max(...rows.map((r) => r.phase.length), 10);
  const cols = ['count', 'sum ms', 'covered', 'start', 'end'];
  console.log(`${'process'.padEnd(18)}${'phase'.padEnd(w + 2)}${cols.map((c) => c.padStart(9)).join('')}`);
  for (const r of rows)
    console.log(
      `${r.process.padEnd(18)}${r.phase.padEnd(w + 2)}${[r.count, r.sumMs.toFixed(1), r.coveredMs.toFixed(1), r.startMs.toFixed(1), r.endMs.toFixed(1)]
        .map((c) => String(c).padStart(9))
        .join('')}`,
    );
  const ms = runs.map((r) => ((r.to - r.from) / 1000).toFixed(0)).join(', ');
  console.log(`${label}: the median of ${runs.length} runs (${ms} ms), ${(total / 1000).toFixed(1)} ms`);
  console.log(
    `CPU of that run (ms): ${Object.entries(cpu)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}; load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  console.log(`covered: wall-clock ms with at least one such span open (concurrent spans overlap); start/end: ms from the pull's start; wrote ${opts.out}`);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.stack : String(e));
  process.exit(1);
});
