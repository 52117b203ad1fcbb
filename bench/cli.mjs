#!/usr/bin/env node
// Benchmark: the gantry CLI beside the docker CLI against the same gantryd (its own, started
// here): `version` and `ps -a` (with a few containers), wall time of the whole process, the two
// CLIs interleaved run by run so both see the same machine state. Needs root and `npm run build`.
//   node bench/cli.mjs [--runs N] [--baseline OTHER_MAIN_JS]
// Prints medians (ms) and gantry/docker ratios (below 1: gantry faster). --baseline also runs another
// build of the CLI's bundle (e.g. one saved before a change), interleaved with the others.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadHarness } from './harness.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const GANTRY = join(repo, 'bin', 'gantry');
const argv = process.argv.slice(2);
const flag = (name) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
const runs = Number(flag('--runs') ?? 15);
const baseline = flag('--baseline');
if (!Number.isInteger(runs) || runs < 1 || (argv.includes('--baseline') && baseline === undefined)) {
  console.error('usage: node bench/cli.mjs [--runs N] [--baseline OTHER_MAIN_JS]');
  process.exit(2);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function timed(cmd, args, env) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return ms;
}

const tmp = mkdtempSync(join(tmpdir(), 'clibench-'));
const { GantrydHarness } = loadHarness(tmp, 'gantryd');
const g = await GantrydHarness.start('clibench-g-');
try {
  g.loadBusybox();
  for (let i = 0; i < 3; i++) g.ok(['create', '--name', `clibench-${i}`, 'busybox', 'true']);
  const env = g.env();
  const cases = [
    ['gantry version', GANTRY, ['version']],
    ['docker version', 'docker', ['version']],
    ['gantry ps -a', GANTRY, ['ps', '-a']],
    ['docker ps -a', 'docker', ['ps', '-a']],
    ...(baseline === undefined
      ? []
      : [
          ['baseline version', process.execPath, [baseline, 'version']],
          ['baseline ps -a', process.execPath, [baseline, 'ps', '-a']],
        ]),
  ];
  const times = Object.fromEntries(cases.map(([name]) => [name, []]));
  for (const [, cmd, args] of cases) timed(cmd, args, env); // warm the page cache
  for (let r = 0; r < runs; r++) for (const [name, cmd, args] of cases) times[name].push(timed(cmd, args, env));
  const m = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
  console.log(`median wall ms of ${runs} runs against one gantryd`);
  console.log('| command | gantry | docker | gantry/docker |');
  console.log('|---|---|---|---|');
  for (const c of ['version', 'ps -a']) {
    const a = m[`gantry ${c}`];
    const b = m[`docker ${c}`];
    console.log(`| \`${c}\` | ${a.toFixed(0)} | ${b.toFixed(0)} | ${(a / b).toFixed(2)} |`);
  }
  if (baseline !== undefined) {
    console.log(`\nbaseline ${baseline}`);
    for (const c of ['version', 'ps -a']) console.log(`\`${c}\`: baseline ${m[`baseline ${c}`].toFixed(0)} ms, this build ${m[`gantry ${c}`].toFixed(0)} ms`);
  }
} finally {
  for (let i = 0; i < 3; i++) g.docker(['rm', '-f', `clibench-${i}`]);
  await g.stop();
  rmSync(tmp, { recursive: true, force: true });
}
