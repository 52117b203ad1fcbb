#!/usr/bin/env node
// Where a `docker exec <c> true` spends its time, across every layer, as bench/trace-run.mjs does
// for `docker run`: a private gantryd traced with GANTRY_TRACE=<dir> (gantryd, gantry-containerd,
// the shim, the runtime inside it and the exec stage each write their own file), one container
// `busybox sleep` started, one exec to warm up, then --runs (5) execs one after the other; the run
// of median length is merged into one Chrome trace document with the docker CLI's track, and its
// longest phases are printed (bench/trace-docker.mjs).
//
//   node bench/trace-exec.mjs [--runs N] [--out FILE] [--top N]
//
// Writes bench/results/trace-exec.json: open it in https://ui.perfetto.dev or chrome://tracing.
// Needs root and a build (npm run build); the daemon and the container are stopped at the end.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadHarness } from './harness.mjs';
import { docker, reportMedianRun, timedRuns } from './trace-docker.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function parseArgs(argv) {
  const o = { out: join(repo, 'bench', 'results', 'trace-exec.json'), runs: 5, top: 20 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--out') o.out = resolve(argv[++i]);
    else if (a === '--top') o.top = Number(argv[++i]);
    else if (a === '--runs') o.runs = Number(argv[++i]);
    else {
      console.error('usage: node bench/trace-exec.mjs [--runs N] [--out FILE] [--top N]');
      process.exit(a === '-h' || a === '--help' ? 0 : 2);
    }
  }
  if (!Number.isInteger(o.top) || o.top < 1) throw new Error('--top wants a positive integer');
  if (!Number.isInteger(o.runs) || o.runs < 1) throw new Error('--runs wants a positive integer');
  return o;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error('run as root');
  const tmp = mkdtempSync(join(tmpdir(), 'gantry-bench-trace-exec-'));
  const traceDir = join(tmp, 'trace');
  // inherited by gantryd, and from it by gantry-containerd (which hands it to each shim)
  process.env.GANTRY_TRACE = traceDir;
  const cmd = ['exec', 'trace-exec', 'true'];
  try {
    const { GantrydHarness } = loadHarness(tmp, 'gantryd');
    const g = await GantrydHarness.start('gte-');
    let runs;
    try {
      const env = g.env();
      delete env.GANTRY_TRACE; // the docker CLI has no use for it
      await docker(env, ['load', '-i', g.makeBusyboxArchive()]);
      await docker(env, ['run', '-d', '--network', 'none', '--name', 'trace-exec', 'busybox', 'sleep', '3600']);
      await docker(env, cmd); // warm-up: the first exec loads what later ones find loaded
      runs = await timedRuns(env, cmd, opts.runs);
    } finally {
      await g.stop().catch(() => undefined); // removes the container too
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
