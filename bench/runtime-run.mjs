#!/usr/bin/env node
// Benchmark: wall-clock time of `<runtime> --root <dir> run --bundle <bundle> <id>` for a busybox
// `true`, gantry-runtime against runc, runs interleaved so both see the same machine state.
//
//   node bench/runtime-run.mjs [--runs N] [--warmup N] [--runtime PATH] [--runc PATH] [--out FILE]
//
// Writes bench/results/runtime-run.json (or --out) and prints a table. Needs root (containers).
// Exits 1 when gantry-runtime could not run the container; runc is skipped, with a message,
// when it is not installed.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function usage(code) {
  console.error('usage: node bench/runtime-run.mjs [--runs N] [--warmup N] [--runtime PATH] [--runc PATH] [--out FILE]');
  process.exit(code);
}

function parseArgs(argv) {
  const opts = {
    runs: 20,
    warmup: 1,
    runtime: join(repo, 'bin', 'gantry-runtime'),
    runc: undefined,
    out: join(repo, 'bench', 'results', 'runtime-run.json'),
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].includes('=') ? argv[i].split(/=(.*)/s, 2) : [argv[i], undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) usage(2);
      return v;
    };
    switch (flag) {
      case '--runs':
      case '-n':
        opts.runs = Number(value());
        break;
      case '--warmup':
        opts.warmup = Number(value());
        break;
      case '--runtime':
        opts.runtime = resolve(value());
        break;
      case '--runc':
        opts.runc = resolve(value());
        break;
      case '--out':
        opts.out = resolve(value());
        break;
      case '-h':
      case '--help':
        usage(0);
        break;
      default:
        console.error(`unknown argument: ${argv[i]}`);
        usage(2);
    }
  }
  if (!Number.isInteger(opts.runs) || opts.runs < 1) usage(2);
  if (!Number.isInteger(opts.warmup) || opts.warmup < 0) usage(2);
  return opts;
}

function isExecutable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function findOnPath(name) {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  // root's PATH has the sbin directories; other shells may not.
  for (const dir of [...dirs, '/usr/local/sbin', '/usr/sbin', '/sbin']) {
    if (isExecutable(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** Nearest-rank percentile of an ascending array. */
function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

function summarize(samplesMs) {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return {
    runs: sorted.length,
    meanMs: sorted.reduce((s, x) => s + x, 0) / sorted.length,
    medianMs: sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2,
    p90Ms: percentile(sorted, 90),
    minMs: sorted[0],
    maxMs: sorted[sorted.length - 1],
  };
}

const round = (x) => Math.round(x * 1000) / 1000;

/** One timed `run`; the container is deleted afterwards, outside the timed part. */
function timedRun(bin, root, bundle, id) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(bin, ['--root', root, 'run', '--bundle', bundle, id], {
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
    timeout: 60000,
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  spawnSync(bin, ['--root', root, 'delete', '--force', id], { stdio: 'ignore', timeout: 30000 });
  if (r.error) return { ok: false, ms, error: `${r.error.message}` };
  if (r.status !== 0) {
    const detail = `${r.stderr ?? ''}${r.stdout ?? ''}`.trim().split('\n').slice(-5).join('\n');
    return { ok: false, ms, error: `exit ${r.status ?? r.signal}${detail ? `: ${detail}` : ''}` };
  }
  return { ok: true, ms };
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) {
    console.error('runtime-run: creating containers needs root');
    process.exit(2);
  }

  const work = mkdtempSync(join(tmpdir(), 'gantry-bench-'));
  try {
    const bundle = join(work, 'bundle');
    const made = spawnSync('bash', [join(repo, 'tools', 'make-busybox-bundle.sh'), bundle, '--args', 'true'], {
      encoding: 'utf8',
    });
    if (made.status !== 0) throw new Error(`make-busybox-bundle.sh failed: ${made.stderr}`);

    const contenders = [{ key: 'gantry', name: 'gantry-runtime', bin: opts.runtime, root: join(work, 'root-gantry') }];
    const runc = opts.runc ?? findOnPath('runc');
    let runcSkipped;
    if (runc && isExecutable(runc)) {
      contenders.push({ key: 'runc', name: 'runc', bin: runc, root: join(work, 'root-runc') });
    } else {
      runcSkipped = `runc is not installed${opts.runc ? ` at ${opts.runc}` : ''} (apt-get install runc); measuring gantry-runtime alone`;
      console.error(`runtime-run: ${runcSkipped}`);
    }
    for (const c of contenders) {
      c.samples = [];
      c.error = isExecutable(c.bin) ? undefined : `${c.bin} is not executable`;
    }

    let seq = 0;
    const total = opts.warmup + opts.runs;
    for (let i = 0; i < total; i++) {
      // Alternate which runtime goes first, so neither always runs on a just-warmed cache.
      const order = i % 2 === 0 ? contenders : [...contenders].reverse();
      for (const c of order) {
        if (c.error) continue;
        const r = timedRun(c.bin, c.root, bundle, `bench-${process.pid}-${c.key}-${++seq}`);
        if (!r.ok) {
          c.error = r.error;
          console.error(`runtime-run: ${c.name} failed: ${r.error}`);
        } else if (i >= opts.warmup) {
          c.samples.push(r.ms);
        }
      }
    }

    const result = {
      benchmark: 'runtime-run',
      description: "wall-clock ms of `<runtime> --root <dir> run --bundle <bundle> <id>`, busybox 'true', terminal false; delete untimed",
      date: new Date().toISOString(),
      host: { node: process.version, kernel: release(), cpus: cpus().length, cpu: cpus()[0]?.model },
      runs: opts.runs,
      warmup: opts.warmup,
      runtimes: {},
      ratio: null,
    };
    for (const c of contenders) {
      const entry = { path: c.bin };
      if (c.error) entry.error = c.error;
      if (c.samples.length === opts.runs) {
        const s = summarize(c.samples);
        for (const k of Object.keys(s)) entry[k] = k === 'runs' ? s[k] : round(s[k]);
        entry.samplesMs = c.samples.map(round);
      }
      result.runtimes[c.key] = entry;
    }
    if (runcSkipped) result.runtimes.runc = { skipped: runcSkipped };
    const g = result.runtimes.gantry;
    const rc = result.runtimes.runc;
    if (g?.meanMs !== undefined && rc?.meanMs !== undefined) {
      result.ratio = {
        mean: round(g.meanMs / rc.meanMs),
        median: round(g.medianMs / rc.medianMs),
        p90: round(g.p90Ms / rc.p90Ms),
      };
    }

    mkdirSync(dirname(opts.out), { recursive: true });
    writeFileSync(opts.out, JSON.stringify(result, null, 2) + '\n');

    const fmt = (x) => (x === undefined ? '-' : x.toFixed(1).padStart(9));
    console.log(`runtime run of busybox 'true', ${opts.runs} runs each (+${opts.warmup} warm-up), wall clock ms`);
    console.log(`${'runtime'.padEnd(16)}${'mean'.padStart(9)}${'median'.padStart(9)}${'p90'.padStart(9)}${'min'.padStart(9)}${'max'.padStart(9)}`);
    for (const c of contenders) {
      const e = result.runtimes[c.key];
      if (e.meanMs === undefined) {
        console.log(`${c.name.padEnd(16)}  failed: ${String(e.error).split('\n')[0]}`);
      } else {
        console.log(`${c.name.padEnd(16)}${fmt(e.meanMs)}${fmt(e.medianMs)}${fmt(e.p90Ms)}${fmt(e.minMs)}${fmt(e.maxMs)}`);
      }
    }
    if (runcSkipped) console.log(`${'runc'.padEnd(16)}  skipped: ${runcSkipped}`);
    if (result.ratio) {
      const r = result.ratio;
      console.log(`${'gantry/runc'.padEnd(16)}${r.mean.toFixed(2).padStart(9)}${r.median.toFixed(2).padStart(9)}${r.p90.toFixed(2).padStart(9)}`);
    }
    console.log(`results: ${opts.out}`);
    process.exitCode = g?.meanMs === undefined ? 1 : 0;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main();
