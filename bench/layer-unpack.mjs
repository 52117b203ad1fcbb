#!/usr/bin/env node
// Benchmark: unpacking a ~200 MB uncompressed layer, @gantry/containerd's applyLayer (the built
// dist) against GNU tar (`tar -xf`), each into a fresh directory, runs interleaved.
//
//   node bench/layer-unpack.mjs [--runs N] [--size-mb N] [--keep] [--out FILE]
//
// The layer is generated deterministically (a seeded PRNG picks file sizes and contents: many
// small files, fewer medium ones, a few large ones, in nested directories) and packed by GNU tar
// with fixed owner and mtime. Needs `npm run build` (or tsc -b packages/containerd) first. Writes
// bench/results/layer-unpack.json (or --out) and prints a table.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, mkdtempSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, release, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

const opts = { runs: 3, sizeMb: 200, keep: false, out: join(repo, 'bench', 'results', 'layer-unpack.json') };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === '--runs') opts.runs = Number(process.argv[++i]);
  else if (a === '--size-mb') opts.sizeMb = Number(process.argv[++i]);
  else if (a === '--keep') opts.keep = true;
  else if (a === '--out') opts.out = resolve(process.argv[++i]);
  else {
    console.error('usage: node bench/layer-unpack.mjs [--runs N] [--size-mb N] [--keep] [--out FILE]');
    process.exit(2);
  }
}

let applyLayer;
try {
  ({ applyLayer } = require(join(repo, 'packages', 'containerd', 'dist', 'diff', 'apply.js')));
} catch (e) {
  console.error(`cannot load packages/containerd/dist/diff/apply.js (${e.message}): run npm run build first`);
  process.exit(1);
}

// deterministic bytes: a 4 MiB pool from a sha256 chain, sliced at PRNG offsets
function pool() {
  const out = Buffer.alloc(4 << 20);
  let h = Buffer.from('gantry-layer-unpack');
  for (let off = 0; off < out.length; off += 32) {
    h = createHash('sha256').update(h).digest();
    h.copy(out, off);
  }
  return out;
}
function prng(seed) {
  let s = seed >>> 0;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
}

function generate(dir, totalBytes) {
  const bytes = pool();
  const rnd = prng(42);
  let total = 0;
  let files = 0;
  const dirs = [];
  for (let a = 0; a < 20; a++) for (let b = 0; b < 10; b++) dirs.push(join(`d${a}`, `sub${b}`));
  for (const d of dirs) mkdirSync(join(dir, d), { recursive: true });
  const put = (size) => {
    const d = dirs[Math.floor(rnd() * dirs.length)];
    const off = Math.floor(rnd() * (bytes.length - size));
    writeFileSync(join(dir, d, `f${files++}`), bytes.subarray(off, off + size));
    total += size;
  };
  // ~20% of the bytes in small files (0.1-16 KiB), ~55% in medium (64 KiB-1 MiB), ~25% in large (4 MiB)
  while (total < totalBytes * 0.2) put(100 + Math.floor(rnd() * 16284));
  while (total < totalBytes * 0.75) put((64 << 10) + Math.floor(rnd() * (960 << 10)));
  while (total < totalBytes) put(4 << 20);
  return { files, bytes: total, dirs: dirs.length };
}

function sh(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.toString();
}

const work = mkdtempSync(join(tmpdir(), 'gantry-bench-unpack-'));
try {
  const src = join(work, 'src');
  mkdirSync(src);
  const gen = generate(src, opts.sizeMb * 1e6);
  const layer = join(work, 'layer.tar');
  sh('tar', ['-C', src, '--sort=name', '--mtime=@1600000000', '--owner=0', '--group=0', '--numeric-owner', '-cf', layer, '.']);
  rmSync(src, { recursive: true });
  const layerSize = statSync(layer).size;
  sh('bash', ['-c', 'cat "$1" > /dev/null', 'warm', layer]); // warm the page cache for both contenders
  console.log(`layer: ${(layerSize / 1e6).toFixed(1)} MB, ${gen.files} files in ${gen.dirs} directories`);

  const times = { applyLayer: [], gnuTar: [] };
  let digest;
  for (let run = 0; run < opts.runs; run++) {
    for (const who of run % 2 === 0 ? ['applyLayer', 'gnuTar'] : ['gnuTar', 'applyLayer']) {
      const target = join(work, `${who}-${run}`);
      mkdirSync(target);
      sh('sync', []);
      const t0 = process.hrtime.bigint();
      if (who === 'applyLayer') digest = (await applyLayer(createReadStream(layer, { highWaterMark: 1 << 20 }), target)).digest;
      else sh('tar', ['-C', target, '--numeric-owner', '-xpf', layer]);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      times[who].push(ms);
      console.log(`run ${run + 1} ${who.padEnd(10)} ${ms.toFixed(0)} ms`);
      if (!opts.keep) rmSync(target, { recursive: true });
    }
  }
  const mean = (a) => a.reduce((x, y) => x + y, 0) / a.length;
  const result = {
    benchmark: 'layer-unpack',
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model, kernel: release(), node: process.version, fs: sh('stat', ['-f', '-c', '%T', work]).trim() },
    layer: { bytes: layerSize, files: gen.files, directories: gen.dirs, diffID: digest },
    runs: opts.runs,
    applyLayerMs: { runs: times.applyLayer, mean: mean(times.applyLayer) },
    gnuTarMs: { runs: times.gnuTar, mean: mean(times.gnuTar) },
    ratio: mean(times.applyLayer) / mean(times.gnuTar),
    note: 'ratio = applyLayer mean / GNU tar mean (lower is better for applyLayer); applyLayer also computes the sha256 diffID',
  };
  mkdirSync(dirname(opts.out), { recursive: true });
  writeFileSync(opts.out, JSON.stringify(result, null, 2) + '\n');
  console.log(`\n${'contender'.padEnd(12)} mean ms`);
  console.log(`${'applyLayer'.padEnd(12)} ${result.applyLayerMs.mean.toFixed(0)}`);
  console.log(`${'GNU tar'.padEnd(12)} ${result.gnuTarMs.mean.toFixed(0)}`);
  console.log(`ratio ${result.ratio.toFixed(2)} -> ${opts.out}`);
} finally {
  if (!opts.keep) rmSync(work, { recursive: true, force: true });
}
