#!/usr/bin/env node
// Memory per container: N idle containers (`docker run -d busybox sleep`) on gantryd and, when
// installed, on a private Debian dockerd, and the PSS of each stack's processes summed by kind
// (bench/engine-memory.mjs: smaps_rollup; the containers' own processes are left out, they are the
// same on both). The memory case of bench/engine.mjs alone, quicker to repeat while tuning the shim.
//
//   node bench/shim-memory.mjs [--containers N] [--settle S] [--no-dockerd] [--json [FILE]]
//
// --settle: seconds to wait after the last container started (default 5): idle means idle, and a
// gantry-shim collects its garbage 2 s after its last call (packages/shim/src/idle-gc.ts).
// --json writes bench/results/shim-memory.json (or FILE). Needs root and `npm run build`.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, release, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { memoryRows, settledMemory } from './engine-memory.mjs';
import { loadHarness } from './harness.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const USAGE = 'usage: node bench/shim-memory.mjs [--containers N] [--settle S] [--no-dockerd] [--json [FILE]]';

function parseArgs(argv) {
  const o = { containers: 50, settle: 5, dockerd: true, out: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--containers') {
      o.containers = Number(argv[++i]);
      if (!Number.isInteger(o.containers) || o.containers < 1) throw new Error(`--containers needs an integer >= 1 (${USAGE})`);
    } else if (a === '--settle') {
      o.settle = Number(argv[++i]);
      if (!Number.isFinite(o.settle) || o.settle < 0) throw new Error(`--settle needs a number of seconds >= 0 (${USAGE})`);
    } else if (a === '--no-dockerd') o.dockerd = false;
    else if (a === '--json') o.out = argv[i + 1] && !argv[i + 1].startsWith('--') ? resolve(argv[++i]) : join(repo, 'bench', 'results', 'shim-memory.json');
    else if (a === '-h' || a === '--help') {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`unknown argument '${a}' (${USAGE})`);
  }
  return o;
}

function docker(env, args) {
  return new Promise((res, rej) => {
    const c = spawn('docker', args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    c.stderr.on('data', (d) => (err += d));
    c.on('error', rej);
    c.on('exit', (code) => (code === 0 ? res() : rej(new Error(`docker ${args.join(' ')}: exit ${code}: ${err.trim()}`))));
  });
}

async function inBatches(names, size, fn) {
  for (let i = 0; i < names.length; i += size) await Promise.all(names.slice(i, i + size).map(fn));
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error('run as root');
  const tmp = mkdtempSync(join(tmpdir(), 'gantry-bench-shim-memory-'));
  const cleanup = [() => rmSync(tmp, { recursive: true, force: true })];
  const memory = {};
  const targets = [];
  try {
    const { GantrydHarness } = loadHarness(tmp, 'gantryd');
    const g = await GantrydHarness.start('gsm-');
    cleanup.push(() => g.stop());
    targets.push({ name: 'gantryd', env: g.env(), dir: g.dir, daemonPid: () => g.daemon.pid });
    if (opts.dockerd) {
      try {
        const { TestDockerd } = loadHarness(tmp, 'dockerd');
        const d = new TestDockerd('/usr/sbin/runc');
        cleanup.push(() => d.stop());
        await d.start();
        targets.push({ name: 'dockerd', env: d.env, dir: d.dir, daemonPid: () => Number(readFileSync(join(d.dir, 'dockerd.pid'), 'utf8')) });
      } catch (e) {
        console.error(`dockerd skipped: ${e.message.split('\n')[0]}`);
      }
    }
    const archive = g.makeBusyboxArchive();
    const names = Array.from({ length: opts.containers }, (_, k) => `shim-mem-${k}`);
    for (const t of targets) {
      await docker(t.env, ['load', '-i', archive]);
      // one container started and removed first: what the first container loads into a daemon
      // (the runtime's modules, gRPC clients) is in `base`, not counted per container
      await docker(t.env, ['run', '--rm', '--network', 'none', 'busybox', 'true']);
      memory[t.name] = { base: await settledMemory(t) };
      console.log(`${t.name}: starting ${opts.containers} idle containers ...`);
      await inBatches(names, 10, (n) => docker(t.env, ['run', '-d', '--network', 'none', '--name', n, 'busybox', 'sleep', '3600']));
      await new Promise((r) => setTimeout(r, opts.settle * 1000));
      memory[t.name].loaded = await settledMemory(t);
      await inBatches(names, 10, (n) => docker(t.env, ['rm', '-f', n]));
    }
  } finally {
    while (cleanup.length) await Promise.resolve(cleanup.pop()()).catch((e) => console.error(`cleanup: ${e.message}`));
  }
  const rows = memoryRows(memory, opts.containers);
  console.log(`memory (PSS, MiB) with ${opts.containers} idle containers; ratio = gantryd/dockerd`);
  console.table(rows);
  for (const [name, m] of Object.entries(memory)) {
    const kinds = Object.entries(m.loaded.kinds).map(
      ([kind, v]) => `${kind} ${(v.kib / 1024).toFixed(1)} MiB (${v.count}, ${(v.kib / v.count / 1024).toFixed(2)} each)`,
    );
    console.log(`  ${name}: ${kinds.join(', ')}`);
  }
  if (opts.out) {
    const out = {
      date: new Date().toISOString(),
      kernel: release(),
      loadavg: loadavg(),
      containers: opts.containers,
      settleS: opts.settle,
      rows,
      snapshots: memory,
    };
    mkdirSync(dirname(opts.out), { recursive: true });
    writeFileSync(opts.out, JSON.stringify(out, null, 2) + '\n');
    console.log(`wrote ${opts.out}`);
  }
}

main().catch((e) => {
  console.error(e.stack ?? String(e));
  process.exit(1);
});
