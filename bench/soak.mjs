#!/usr/bin/env node
// Leak soak: containers created, started, stopped and removed through the real docker CLI against a
// private gantryd (e2e/src/soak.ts, transpiled on the fly with esbuild), a third on a user network
// with a published port, a third with a named volume, a third plain. Snapshots of mounts, cgroups,
// links, netns, iptables rules, IPAM leases, shims, fds and RSS before, after the first 100 and at
// the end; exits 1 when anything is left or RSS grew more than 10 % after the first 100.
//
//   node bench/soak.mjs [--count N] [--parallel N] [--warmup N] [--out FILE]     (root; npm run soak)
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadHarness } from './harness.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const o = { count: 1000, parallel: 10, warmup: 100, out: join(repo, 'bench', 'results', 'soak.json') };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--count') o.count = Number(argv[++i]);
  else if (a === '--parallel') o.parallel = Number(argv[++i]);
  else if (a === '--warmup') o.warmup = Number(argv[++i]);
  else if (a === '--out') o.out = resolve(argv[++i]);
  else {
    console.error('usage: node bench/soak.mjs [--count N] [--parallel N] [--warmup N] [--out FILE]');
    process.exit(a === '-h' || a === '--help' ? 0 : 2);
  }
}
for (const k of ['count', 'parallel', 'warmup']) {
  if (!Number.isInteger(o[k]) || o[k] < 1) {
    console.error(`${process.argv[1]}: --${k} must be a positive integer, got ${o[k]}`);
    process.exit(2);
  }
}

const tmp = mkdtempSync(join(tmpdir(), 'soak-bench-'));
let r;
try {
  const { runSoak } = loadHarness(tmp, 'soak');
  const load = loadavg()[0];
  console.log(`soak: ${o.count} containers, ${o.parallel} in parallel (load average ${load.toFixed(1)} on ${cpus().length} cpus)`);
  r = await runSoak({ ...o, log: (l) => console.log(l) });
  r.host = { kernel: release(), cpus: cpus().length, loadavgAtStart: load, date: new Date().toISOString() };
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

const rows = [['', ...r.snapshots.map((s) => s.label)]];
const count = (f) => r.snapshots.map(f);
rows.push(['mounts', ...count((s) => s.mounts.length)]);
rows.push(['cgroups', ...count((s) => s.cgroups.length)]);
rows.push(['links (bridges + veths)', ...count((s) => s.links.length)]);
rows.push(['netns', ...count((s) => s.netns.length)]);
const chains = [...new Set(r.snapshots.flatMap((s) => Object.keys(s.iptables)))].sort();
for (const c of chains) rows.push([`iptables ${c}`, ...count((s) => s.iptables[c] ?? 0)]);
rows.push(['IPAM leases', ...count((s) => s.leases.length)]);
rows.push(['shims', ...count((s) => s.shims.length)]);
rows.push(['container processes', ...count((s) => s.containerProcs.length)]);
rows.push(['fds gantryd', ...count((s) => s.fds.gantryd)]);
rows.push(['fds gantry-containerd', ...count((s) => s.fds.containerd)]);
rows.push(['RSS gantryd (MiB)', ...count((s) => (s.rss.gantryd / 1024).toFixed(1))]);
rows.push(['RSS gantry-containerd (MiB)', ...count((s) => (s.rss.containerd / 1024).toFixed(1))]);
const w = rows[0].map((_, i) => Math.max(...rows.map((row) => String(row[i]).length)));
for (const row of rows) console.log(row.map((c, i) => (i === 0 ? String(c).padEnd(w[i]) : String(c).padStart(w[i]))).join('  '));
console.log(`\n${r.count} containers in ${r.seconds.toFixed(1)} s: ${r.containersPerSecond.toFixed(2)} containers/s; ${r.failures.length} failed requests`);
console.log(
  `RSS end / after ${r.warmup}: gantryd ${r.rssRatio.gantryd.toFixed(3)}, gantry-containerd ${r.rssRatio.containerd.toFixed(3)} (${r.rssWithin10Percent ? 'within' : 'NOT within'} 10 %)`,
);
for (const f of r.failures.slice(0, 20)) console.log(`failure: ${f}`);
for (const l of [...r.leaks, ...r.networkLeaks]) console.log(`LEAK ${l}`);
if (r.leaks.length + r.networkLeaks.length === 0) console.log('leaks: none');
mkdirSync(dirname(o.out), { recursive: true });
writeFileSync(o.out, JSON.stringify(r, null, 2) + '\n');
console.log(`wrote ${o.out}`);
process.exit(r.leaks.length + r.networkLeaks.length > 0 || !r.rssWithin10Percent || r.failures.length > 0 ? 1 : 0);
