#!/usr/bin/env node
// Benchmark: the docker CLI against gantryd, beside the same commands against a private Debian
// dockerd (when installed), interleaved so both see the same machine state:
//   run --rm busybox true · exec true · ps · 20 parallel run -d · ps with 50 containers ·
//   push and pull of a multi-layer image (local docker-registry) · memory (PSS) with 50 idle containers
//
//   node bench/engine.mjs [--runs N] [--parallel N] [--containers N] [--layers N] [--layer-mb N]
//                         [--cases run,exec,ps,parallel] [--no-dockerd] [--no-pull] [--pull-only]
//                         [--pull-runs N] [--no-memory] [--baseline DIR] [--out FILE] [--chart FILE | --no-chart]
//
// --cases times only the named cases of the first table (default all four); with --containers 0
// and --no-pull it times nothing else: `--cases exec --containers 0 --no-pull` is the exec case alone.
// --pull-only times push and pull alone (no run/exec/ps/memory); --pull-runs sets their rounds
// (default: runs/5, between 1 and 3). --baseline DIR adds a third engine, the gantryd of another
// built checkout (e.g. `git archive main` unpacked, `npm ci && npm run build` there), measured in
// the same rounds: before and after a change in one run (columns baseline_ms, baseline_ratio).
//
// Both daemons run on temporary sockets and roots (the e2e harnesses, e2e/src/gantryd.ts and
// e2e/src/dockerd.ts, transpiled on the fly with esbuild) and are stopped at the end, as are the
// registries and containers, also when a step fails. Needs root and `npm run build`.
// Writes bench/results/engine.json and its chart bench/results/engine.png (bench/engine-chart.mjs),
// and prints tables of medians and gantryd/dockerd ratios (below 1 means gantryd is faster or smaller).
// Containers run with --network none on both: the private dockerd runs with --bridge=none, and
// network set-up is compared on its own by bench/network-setup.mjs.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeChart } from './engine-chart.mjs';
import { memoryRows, settledMemory } from './engine-memory.mjs';
import { loadHarness } from './harness.mjs';
import { makeLayeredArchive } from './layered-image.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const USAGE =
  'usage: node bench/engine.mjs [--runs N] [--parallel N] [--containers N] [--layers N] [--layer-mb N] [--cases run,exec,ps,parallel] [--no-dockerd] [--no-pull] [--pull-only] [--pull-runs N] [--no-memory] [--baseline DIR] [--out FILE] [--chart FILE | --no-chart]';
const CASES = ['run', 'exec', 'ps', 'parallel'];

function parseArgs(argv) {
  const o = {
    runs: 15,
    parallel: 20,
    containers: 50,
    layers: 4,
    layerMb: 16,
    dockerd: true,
    pull: true,
    pullOnly: false,
    pullRuns: undefined,
    baseline: undefined,
    memory: true,
    cases: new Set(CASES),
    out: join(repo, 'bench', 'results', 'engine.json'),
    chart: undefined,
  };
  const bad = (msg) => {
    console.error(`bench/engine.mjs: ${msg} (--help for usage)`);
    process.exit(2);
  };
  const int = (flag, v, min) => {
    const n = Number(v);
    if (v === undefined || v === '' || !Number.isInteger(n) || n < min)
      bad(`${flag} needs an integer >= ${min}, got ${v === undefined ? 'nothing' : `'${v}'`}`);
    return n;
  };
  const path = (flag, v) => (v === undefined || v.startsWith('--') ? bad(`${flag} needs a file name`) : resolve(v));
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--runs') o.runs = int(a, argv[++i], 1);
    else if (a === '--parallel') o.parallel = int(a, argv[++i], 1);
    else if (a === '--containers') o.containers = int(a, argv[++i], 0);
    else if (a === '--layers') o.layers = int(a, argv[++i], 1);
    else if (a === '--layer-mb') o.layerMb = int(a, argv[++i], 1);
    else if (a === '--cases') {
      const v = argv[++i];
      const names = (v ?? '').split(',').filter(Boolean);
      if (names.length === 0 || names.some((n) => !CASES.includes(n))) bad(`--cases needs a list of ${CASES.join(', ')}, got '${v ?? ''}'`);
      o.cases = new Set(names);
    } else if (a === '--no-dockerd') o.dockerd = false;
    else if (a === '--no-pull') o.pull = false;
    else if (a === '--pull-only') o.pullOnly = true;
    else if (a === '--pull-runs') o.pullRuns = int(a, argv[++i], 1);
    else if (a === '--baseline') o.baseline = path(a, argv[++i]);
    else if (a === '--no-memory') o.memory = false;
    else if (a === '--out') o.out = path(a, argv[++i]);
    else if (a === '--chart') o.chart = path(a, argv[++i]);
    else if (a === '--no-chart') o.chart = null;
    else if (a === '-h' || a === '--help') {
      console.log(USAGE);
      process.exit(0);
    } else bad(`unknown argument '${a}'`);
  }
  if (o.pullOnly && !o.pull) bad('--pull-only and --no-pull exclude each other');
  if (o.pullOnly) o.memory = false;
  if (o.chart === undefined) o.chart = o.out.replace(/\.json$/, '') + '.png';
  return o;
}

/** Run the docker CLI asynchronously; resolves with its stdout (rejects on failure). */
function docker(env, args) {
  return new Promise((res, rej) => {
    const c = spawn('docker', args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (err += d));
    c.on('error', rej);
    c.on('exit', (code) => (code === 0 ? res(out) : rej(new Error(`docker ${args.join(' ')}: exit ${code}: ${err.trim()}`))));
  });
}

async function timed(fn) {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const round1 = (x) => Math.round(x * 10) / 10;
const ratio = (g, d) => (d === undefined || d === null || d === 0 ? null : Number((g / d).toFixed(2)));

/** `docker <verb> name...` in batches of `size` names run in parallel. */
async function inBatches(names, size, fn) {
  for (let i = 0; i < names.length; i += size) await Promise.all(names.slice(i, i + size).map(fn));
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error('run as root');
  const loadStart = loadavg();
  const tmp = mkdtempSync(join(tmpdir(), 'gantry-bench-engine-'));
  // undone in reverse order at the end, whatever happened
  const cleanup = [() => rmSync(tmp, { recursive: true, force: true })];
  // once, whether a signal or the end of main() asks first: both wait for the same promise
  let cleaning;
  const cleanUp = () =>
    (cleaning ??= (async () => {
      while (cleanup.length) await Promise.resolve(cleanup.pop()()).catch((e) => console.error(`cleanup: ${e.message}`));
    })());
  // what starts after the clean-up began (a signal arrived mid-step) is stopped at once
  const defer = (fn) => (cleaning ? Promise.resolve(fn()).catch(() => undefined) : cleanup.push(fn));
  const onSignal = (sig) => {
    console.error(`${sig}: stopping what the bench started`);
    cleanUp().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const results = {};
  const memory = {};
  const targets = [];
  const pullLabel = `pull ${opts.layers}x${opts.layerMb} MB`;
  const pushLabel = `push ${opts.layers}x${opts.layerMb} MB`;
  const psN = `ps, ${opts.containers} containers`;
  try {
    const { GantrydHarness } = loadHarness(tmp, 'gantryd');
    const g = await GantrydHarness.start('gbe-');
    defer(() => g.stop());
    targets.push({ name: 'gantryd', env: g.env(), dir: g.dir, daemonPid: () => g.daemon.pid });
    if (opts.baseline) {
      const { GantrydHarness: BaseHarness } = loadHarness(tmp, 'gantryd', opts.baseline);
      const b = await BaseHarness.start('gbb-');
      defer(() => b.stop());
      targets.push({ name: 'baseline', env: b.env(), dir: b.dir, daemonPid: () => b.daemon.pid });
    }
    const archive = g.makeBusyboxArchive();
    if (opts.dockerd) {
      let d;
      try {
        const { TestDockerd } = loadHarness(tmp, 'dockerd');
        d = new TestDockerd('/usr/sbin/runc');
        defer(() => d.stop());
        await d.start();
        targets.push({ name: 'dockerd', env: d.env, dir: d.dir, daemonPid: () => Number(readFileSync(join(d.dir, 'dockerd.pid'), 'utf8')) });
      } catch (e) {
        console.error(`dockerd skipped: ${e.message.split('\n')[0]}`);
      }
    }
    const each = (fn) => Promise.all(targets.map(fn));
    await each(async (t) => {
      await docker(t.env, ['load', '-i', archive]);
      await docker(t.env, ['run', '-d', '--network', 'none', '--name', 'bench-exec', 'busybox', 'sleep', '3600']);
      await docker(t.env, ['run', '--rm', '--network', 'none', 'busybox', 'true']); // warm-up
      results[t.name] = {};
    });

    /** `runs` rounds; in each, every engine in turn (so both see the same load). */
    const measure = async (label, runs, fn) => {
      for (const t of targets) results[t.name][label] = [];
      for (let i = 0; i < runs; i++) {
        for (const t of targets) {
          let ms;
          const r = await timed(async () => (ms = await fn(t, i)));
          results[t.name][label].push(typeof ms === 'number' ? ms : r);
        }
      }
    };
    const fewRuns = Math.max(1, Math.min(3, Math.floor(opts.runs / 5)));
    const pullRuns = opts.pullRuns ?? fewRuns;

    if (!opts.pullOnly) {
      console.log(`timing ${[...opts.cases].join(', ')} (${opts.runs} runs; ${opts.parallel} x run -d ${fewRuns} runs) ...`);
      if (opts.cases.has('run')) await measure('run --rm', opts.runs, (t) => docker(t.env, ['run', '--rm', '--network', 'none', 'busybox', 'true']));
      if (opts.cases.has('exec')) await measure('exec true', opts.runs, (t) => docker(t.env, ['exec', 'bench-exec', 'true']));
      if (opts.cases.has('ps')) await measure('ps', opts.runs, (t) => docker(t.env, ['ps']));
      if (opts.cases.has('parallel'))
        await measure(`${opts.parallel} x run -d`, fewRuns, async (t, i) => {
          const names = Array.from({ length: opts.parallel }, (_, k) => `bench-p${i}-${k}`);
          const ms = await timed(() =>
            Promise.all(names.map((n) => docker(t.env, ['run', '-d', '--network', 'none', '--name', n, 'busybox', 'sleep', '3600']))),
          );
          await docker(t.env, ['rm', '-f', ...names]);
          return ms;
        });

      if (opts.containers > 0) {
        const names = Array.from({ length: opts.containers }, (_, k) => `bench-idle-${k}`);
        if (opts.memory) {
          console.log('memory before the idle containers ...');
          for (const t of targets) memory[t.name] = { base: await settledMemory(t) };
        }
        console.log(`starting ${opts.containers} idle containers on each engine ...`);
        for (const t of targets) {
          // removed (with bench-exec) by the harnesses' stop() when a later step fails
          await inBatches(names, opts.parallel, (n) => docker(t.env, ['run', '-d', '--network', 'none', '--name', n, 'busybox', 'sleep', '3600']));
        }
        if (opts.memory) {
          console.log('memory with the idle containers ...');
          for (const t of targets) memory[t.name].loaded = await settledMemory(t);
        }
        await measure(psN, opts.runs, (t) => docker(t.env, ['ps']));
        for (const t of targets) await inBatches(names, opts.parallel, (n) => docker(t.env, ['rm', '-f', n]));
      }
    }

    if (opts.pull) {
      const require = createRequire(import.meta.url);
      const { LocalRegistry } = require(join(repo, 'packages', 'testkit', 'dist', 'registry.js'));
      console.log(`making a ${opts.layers}-layer image of ${opts.layers * opts.layerMb} MB of random bytes ...`);
      const image = 'bench/layers:v1';
      const layered = makeLayeredArchive(join(tmp, 'image'), { layers: opts.layers, layerMb: opts.layerMb, name: image });
      await each((t) => docker(t.env, ['load', '-i', layered]));
      rmSync(join(tmp, 'image'), { recursive: true, force: true });
      const startRegistry = async (name) => {
        const reg = await LocalRegistry.start(join(tmp, name));
        defer(() => reg.stop());
        return reg;
      };
      // a fresh registry per push: no blob is already there, and none can be mounted from another repository
      await measure(pushLabel, pullRuns, async (t, i) => {
        const reg = await startRegistry(`reg-${t.name}-${i}`);
        const ref = `${reg.host}/bench/layers:v1`;
        await docker(t.env, ['tag', image, ref]);
        const ms = await timed(() => docker(t.env, ['push', ref]));
        await docker(t.env, ['rmi', ref]);
        await reg.stop();
        rmSync(reg.dir, { recursive: true, force: true });
        return ms;
      });
      // both engines pull the same blobs (pushed once by gantryd) after removing the image
      const src = await startRegistry('reg-pull');
      const ref = `${src.host}/bench/layers:v1`;
      const first = targets[0];
      await docker(first.env, ['tag', image, ref]);
      await docker(first.env, ['push', ref]);
      await each((t) => docker(t.env, ['rmi', image, ...(t === first ? [ref] : [])]));
      await measure(pullLabel, pullRuns, async (t) => {
        let out = '';
        const ms = await timed(async () => (out = await docker(t.env, ['pull', ref])));
        if (/Already exists/.test(out)) throw new Error(`${t.name}: the pull found layers already there:\n${out}`);
        await docker(t.env, ['rmi', ref]);
        return ms;
      });
    }
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await cleanUp();
  }

  const rows = Object.keys(results.gantryd).map((label) => {
    const gm = median(results.gantryd[label]);
    const dm = results.dockerd ? median(results.dockerd[label]) : undefined;
    const row = { case: label, gantryd_ms: Math.round(gm), dockerd_ms: dm === undefined ? null : Math.round(dm), ratio: ratio(gm, dm) };
    if (!results.baseline) return row;
    const bm = median(results.baseline[label]);
    return { ...row, baseline_ms: Math.round(bm), baseline_ratio: ratio(bm, dm) };
  });
  console.log(`gantryd vs dockerd, docker CLI, ${opts.runs} runs each (median ms; ratio = gantryd/dockerd, target <= 0.5 for run --rm and exec)`);
  console.table(rows);
  let mem;
  if (memory.gantryd?.loaded) {
    const kinds = Object.fromEntries(Object.entries(memory).map(([name, m]) => [name, m.loaded.kinds]));
    // every container's processes (bench-exec too) are counted by the per-container kinds
    mem = { containers: opts.containers, rows: memoryRows(memory, opts.containers, opts.containers + 1), kinds, snapshots: memory };
    console.log(`memory (PSS, MiB) with ${opts.containers} idle containers (+ bench-exec); ratio = gantryd/dockerd`);
    console.table(mem.rows);
    console.log('PSS per process kind (KiB, count):');
    for (const [name, k] of Object.entries(kinds))
      console.log(
        `  ${name}: ${Object.entries(k)
          .map(([kind, v]) => `${kind} ${v.kib} (${v.count})`)
          .join(', ')}`,
      );
  }
  const out = {
    date: new Date().toISOString(),
    kernel: release(),
    cpus: cpus().length,
    loadavg: loadStart.map(round1),
    loadavgEnd: loadavg().map(round1),
    runs: opts.runs,
    pullRuns: opts.pullRuns ?? null,
    baseline: opts.baseline ?? null,
    parallel: opts.parallel,
    image: opts.pull ? { layers: opts.layers, layerMb: opts.layerMb } : null,
    rows,
    memory: mem ?? null,
    samples: results,
  };
  mkdirSync(dirname(opts.out), { recursive: true });
  writeFileSync(opts.out, JSON.stringify(out, null, 2) + '\n');
  console.log(`wrote ${opts.out}`);
  if (opts.chart) {
    mkdirSync(dirname(opts.chart), { recursive: true });
    await writeChart(out, opts.chart);
    console.log(`wrote ${opts.chart}`);
  }
}

main().catch((e) => {
  console.error(e.stack ?? String(e));
  process.exit(1);
});
