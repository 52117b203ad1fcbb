#!/usr/bin/env node
// Where a `docker run --rm busybox true` spends its time, across every layer: starts a private
// gantryd (and the gantry-containerd it runs) with GANTRY_TRACE=<dir>, so gantryd, gantry-containerd,
// the shim, the runtime and the container's init stage each append Chrome trace events to a file of
// their own there; runs the command once to warm up, then --runs times (5) one after the other;
// merges the events of the run of median length (mergeTraceDir of @gantry/linux, over that run's
// time window) into one document with a track for the docker CLI's whole run, and prints its
// longest phases (bench/trace-docker.mjs).
//
//   node bench/trace-run.mjs [--runs N] [--out FILE] [--top N] [--network none|bridge]
//
// Writes bench/results/trace-run.json: open it in https://ui.perfetto.dev or chrome://tracing.
// Needs root and a build (npm run build). The e2e harness (e2e/src/gantryd.ts) is transpiled on the
// fly as bench/engine.mjs does, and the daemon is stopped at the end.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadHarness } from './harness.mjs';
import { docker, reportMedianRun, timedRuns } from './trace-docker.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');

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

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error('run as root');
  const tmp = mkdtempSync(join(tmpdir(), 'gantry-bench-trace-'));
  const traceDir = join(tmp, 'trace');
  // inherited by gantryd, and from it by gantry-containerd (which hands it to each shim)
  process.env.GANTRY_TRACE = traceDir;
  const cmd = ['run', '--rm', ...(opts.network === 'none' ? ['--network', 'none'] : []), 'busybox', 'true'];
  try {
    const { GantrydHarness } = loadHarness(tmp, 'gantryd');
    const g = await GantrydHarness.start('gtr-');
    let runs;
    try {
      const env = g.env();
      delete env.GANTRY_TRACE; // the docker CLI has no use for it
      await docker(env, ['load', '-i', g.makeBusyboxArchive()]);
      await docker(env, cmd); // warm-up: the first run loads what later ones find loaded
      runs = await timedRuns(env, cmd, opts.runs);
    } finally {
      await g.stop().catch(() => undefined);
    }
    reportMedianRun({ traceDir, runs, label: `docker ${cmd.join(' ')}`, out: opts.out, top: opts.top });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
