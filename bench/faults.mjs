#!/usr/bin/env node
// Faults: gantry-containerd and shims killed -9 at seeded points (right after a docker request is
// sent, or after its reply) while containers are run and removed through the docker CLI against a
// private gantryd, which restarts its gantry-containerd. Afterwards docker ps -a, ctr (containers
// and tasks, on gantry-containerd's socket) and /proc (shims, container processes) must agree on
// every container, and nothing may be left once the rest are removed (e2e/src/soak.ts).
//
//   node bench/faults.mjs [--count N] [--kills N] [--seed N] [--parallel N] [--out FILE]   (root; npm run faults)
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadHarness } from './harness.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const o = { count: 20, kills: 8, seed: Math.floor(Math.random() * 2 ** 31), parallel: 4, out: join(repo, 'bench', 'results', 'faults.json') };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--count') o.count = Number(argv[++i]);
  else if (a === '--kills') o.kills = Number(argv[++i]);
  else if (a === '--seed') o.seed = Number(argv[++i]);
  else if (a === '--parallel') o.parallel = Number(argv[++i]);
  else if (a === '--out') o.out = resolve(argv[++i]);
  else {
    console.error('usage: node bench/faults.mjs [--count N] [--kills N] [--seed N] [--parallel N] [--out FILE]');
    process.exit(a === '-h' || a === '--help' ? 0 : 2);
  }
}
for (const k of ['count', 'kills', 'seed', 'parallel']) {
  if (!Number.isInteger(o[k]) || o[k] < 0) {
    console.error(`${process.argv[1]}: --${k} must be a non-negative integer, got ${o[k]}`);
    process.exit(2);
  }
}

const tmp = mkdtempSync(join(tmpdir(), 'faults-bench-'));
let r;
try {
  const { runFaults } = loadHarness(tmp, 'soak');
  console.log(`faults: seed ${o.seed} (rerun: npm run faults -- --seed ${o.seed}); ${o.count} containers, ${o.kills} kills, ${o.parallel} in parallel`);
  r = await runFaults({ ...o, log: (l) => console.log(l) });
  r.host = { kernel: release(), cpus: cpus().length, loadavg: loadavg()[0], date: new Date().toISOString() };
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

for (const k of r.killed) console.log(`kill ${k.kill.target} at ${k.kill.point} of #${k.kill.index}: ${k.note}${k.pid ? ` (pid ${k.pid})` : ''}`);
console.log(`gantry-containerd restarts seen: ${r.containerdRestarts}; docker requests that failed: ${r.failures.length}`);
for (const f of r.failures) console.log(`  ${f}`);
console.log('id            docker    ctr  task      shim  procs');
for (const v of r.views)
  console.log(
    `${v.id.slice(0, 12)}  ${(v.docker ?? '-').padEnd(8)}  ${v.ctrContainer ? 'yes' : 'no '}  ${(v.ctrTask ?? '-').padEnd(8)}  ${v.shim ? 'yes' : 'no '}   ${v.processes}`,
  );
for (const d of r.disagreements) console.log(`DISAGREE ${d}`);
for (const l of r.leaks) console.log(`LEAK ${l}`);
console.log(`${r.disagreements.length} disagreements, ${r.leaks.length} leaks, ${r.seconds.toFixed(1)} s (seed ${r.seed})`);
mkdirSync(dirname(o.out), { recursive: true });
writeFileSync(o.out, JSON.stringify(r, null, 2) + '\n');
console.log(`wrote ${o.out}`);
process.exit(r.disagreements.length + r.leaks.length > 0 ? 1 : 0);
