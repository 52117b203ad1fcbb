#!/usr/bin/env node
// Benchmark: the docker CLI against gantryd, beside the same commands against a private Debian
// dockerd (when installed), interleaved so both see the same machine state:
//   run --rm busybox true · 20 parallel run -d · exec true · ps
//
//   node bench/engine.mjs [--runs N] [--parallel N] [--no-dockerd] [--out FILE]
//
// Both daemons run on temporary sockets and roots (the e2e harnesses, e2e/src/gantryd.ts and
// e2e/src/dockerd.ts, transpiled on the fly with esbuild) and are stopped at the end. Needs root.
// Writes bench/results/engine.json and prints a table of medians and gantryd/dockerd ratios
// (below 1 means gantryd is faster). Target from the gantryd issue: at most 0.5 on run --rm and exec.
// Containers run with --network none on both: the private dockerd runs with --bridge=none, and
// network set-up is compared on its own by bench/network-setup.mjs.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadHarness } from './harness.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function parseArgs(argv) {
  const o = { runs: 15, parallel: 20, dockerd: true, out: join(repo, 'bench', 'results', 'engine.json') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--runs') o.runs = Number(argv[++i]);
    else if (a === '--parallel') o.parallel = Number(argv[++i]);
    else if (a === '--no-dockerd') o.dockerd = false;
    else if (a === '--out') o.out = resolve(argv[++i]);
    else {
      console.error('usage: node bench/engine.mjs [--runs N] [--parallel N] [--no-dockerd] [--out FILE]');
      process.exit(a === '-h' || a === '--help' ? 0 : 2);
    }
  }
  if (!Number.isInteger(o.runs) || o.runs < 1 || !Number.isInteger(o.parallel) || o.parallel < 1) process.exit(2);
  return o;
}

/** Run the docker CLI asynchronously; resolves with the exit status (throws on failure). */
function docker(env, args) {
  return new Promise((res, rej) => {
    const c = spawn('docker', args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (d) => (err += d));
    c.on('error', rej);
    c.on('exit', (code) => (code === 0 ? res() : rej(new Error(`docker ${args.join(' ')}: exit ${code}: ${err.trim()}`))));
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

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error('run as root');
  const tmp = mkdtempSync(join(tmpdir(), 'gantry-bench-engine-'));
  const { GantrydHarness } = loadHarness(tmp, 'gantryd');
  const targets = [];
  const g = await GantrydHarness.start('gbe-');
  targets.push({ name: 'gantryd', env: g.env(), stop: () => g.stop() });
  const archive = g.makeBusyboxArchive();
  let d;
  if (opts.dockerd) {
    try {
      const { TestDockerd } = loadHarness(tmp, 'dockerd');
      d = new TestDockerd('/usr/sbin/runc');
      await d.start();
      targets.push({ name: 'dockerd', env: d.env, stop: () => d.stop() });
    } catch (e) {
      console.error(`dockerd skipped: ${e.message.split('\n')[0]}`);
      d = undefined;
    }
  }
  const results = {};
  try {
    for (const t of targets) {
      await docker(t.env, ['load', '-i', archive]);
      await docker(t.env, ['run', '-d', '--network', 'none', '--name', 'bench-exec', 'busybox', 'sleep', '600']);
      await docker(t.env, ['run', '--rm', '--network', 'none', 'busybox', 'true']); // warm-up
      results[t.name] = { 'run --rm': [], [`${opts.parallel} x run -d`]: [], 'exec true': [], ps: [] };
    }
    const cases = [
      ['run --rm', (t) => docker(t.env, ['run', '--rm', '--network', 'none', 'busybox', 'true']), opts.runs],
      ['exec true', (t) => docker(t.env, ['exec', 'bench-exec', 'true']), opts.runs],
      ['ps', (t) => docker(t.env, ['ps']), opts.runs],
      [
        `${opts.parallel} x run -d`,
        async (t, i) => {
          const names = Array.from({ length: opts.parallel }, (_, k) => `bench-p${i}-${k}`);
          const ms = await timed(() =>
            Promise.all(names.map((n) => docker(t.env, ['run', '-d', '--network', 'none', '--name', n, 'busybox', 'sleep', '600']))),
          );
          await docker(t.env, ['rm', '-f', ...names]);
          return ms;
        },
        Math.max(1, Math.min(3, Math.floor(opts.runs / 5))),
      ],
    ];
    for (const [label, fn, runs] of cases) {
      for (let i = 0; i < runs; i++) {
        for (const t of targets) {
          let ms;
          const r = await timed(async () => (ms = await fn(t, i)));
          results[t.name][label].push(typeof ms === 'number' ? ms : r);
        }
      }
    }
  } finally {
    for (const t of targets) await t.stop().catch(() => undefined);
    rmSync(tmp, { recursive: true, force: true });
  }
  const rows = Object.keys(results.gantryd).map((label) => {
    const gm = median(results.gantryd[label]);
    const dm = results.dockerd ? median(results.dockerd[label]) : undefined;
    return {
      case: label,
      gantryd_ms: Math.round(gm),
      dockerd_ms: dm === undefined ? null : Math.round(dm),
      ratio: dm === undefined ? null : Number((gm / dm).toFixed(2)),
    };
  });
  console.log(`gantryd vs dockerd, docker CLI, ${opts.runs} runs each (median ms; ratio = gantryd/dockerd, target <= 0.5 for run --rm and exec)`);
  console.table(rows);
  mkdirSync(dirname(opts.out), { recursive: true });
  writeFileSync(
    opts.out,
    JSON.stringify({ date: new Date().toISOString(), kernel: release(), cpus: cpus().length, runs: opts.runs, rows, samples: results }, null, 2),
  );
}

main().catch((e) => {
  console.error(e.stack ?? String(e));
  process.exit(1);
});
