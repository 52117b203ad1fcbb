#!/usr/bin/env node
// Where `run` spends its time: runs `<runtime> run` of a busybox `true` with GANTRY_TRACE=1, for
// one or more runtime launchers interleaved, and prints the median wall and CPU milestone of each
// process (C: the CLI, S: the init stage; ms since that process started, CPU ms it used so far).
//
//   node bench/runtime-trace.mjs [--runs N] [--chrome FILE] RUNTIME [RUNTIME...]
//
// --chrome writes the last run of each runtime as Chrome trace events (chrome://tracing, Perfetto):
// one instant event per milestone, on the process's own track. Needs root (containers).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const LINE = /^trace (\d+) (.*) ([\d.]+) cpu ([\d.]+) at ([\d.]+)$/;

function parseArgs(argv) {
  const opts = { runs: 10, chrome: undefined, runtimes: [] };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--runs') opts.runs = Number(argv[++i]);
    else if (argv[i] === '--chrome') opts.chrome = resolve(argv[++i]);
    else if (argv[i].startsWith('-')) throw new Error(`unknown argument: ${argv[i]}`);
    else opts.runtimes.push(resolve(argv[i]));
  }
  if (opts.runtimes.length === 0) opts.runtimes.push(join(repo, 'bin', 'gantry-runtime'));
  if (!Number.isInteger(opts.runs) || opts.runs < 1) throw new Error('--runs wants a positive integer');
  return opts;
}

const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const work = mkdtempSync(join(tmpdir(), 'gantry-trace-'));
  try {
    const bundle = join(work, 'bundle');
    const made = spawnSync('bash', [join(repo, 'tools', 'make-busybox-bundle.sh'), bundle, '--args', 'true'], { encoding: 'utf8' });
    if (made.status !== 0) throw new Error(`make-busybox-bundle.sh failed: ${made.stderr}`);
    const milestones = opts.runtimes.map(() => new Map());
    const last = opts.runtimes.map(() => []);
    let seq = 0;
    for (let i = 0; i <= opts.runs; i++) {
      const order = opts.runtimes.map((_, k) => k);
      if (i % 2) order.reverse();
      for (const k of order) {
        const id = `trace-${process.pid}-${++seq}`;
        const root = join(work, `root-${k}`);
        const r = spawnSync(opts.runtimes[k], ['--root', root, 'run', '--bundle', bundle, id], {
          encoding: 'utf8',
          env: { ...process.env, GANTRY_TRACE: '1' },
        });
        spawnSync(opts.runtimes[k], ['--root', root, 'delete', '--force', id], { stdio: 'ignore' });
        if (r.status !== 0) throw new Error(`${opts.runtimes[k]} run failed: ${r.stderr}`);
        if (i === 0) continue; // warm-up
        last[k] = [];
        for (const l of r.stderr.split('\n')) {
          const m = LINE.exec(l);
          if (!m) continue;
          // The init stage is pid 1 of the container's pid namespace; the CLI is anything else.
          const who = m[1] === '1' ? 'S' : 'C';
          const key = `${who} ${m[2].replace(/ \(.*\)$/, '')}`;
          if (!milestones[k].has(key)) milestones[k].set(key, { wall: [], cpu: [] });
          milestones[k].get(key).wall.push(Number(m[3]));
          milestones[k].get(key).cpu.push(Number(m[4]));
          last[k].push({ who, pid: Number(m[1]), label: m[2], epochMs: Number(m[5]), cpuMs: Number(m[4]) });
        }
      }
    }
    const keys = [...new Set(milestones.flatMap((m) => [...m.keys()]))];
    const fmt = (x) => (x === undefined ? '-' : x.toFixed(1)).padStart(8);
    console.log(`${'milestone'.padEnd(34)}${opts.runtimes.map((_, k) => `${`wall${k}`.padStart(8)}${`cpu${k}`.padStart(8)}`).join('')}`);
    for (const key of keys) {
      const cells = milestones.map((m) => {
        const v = m.get(key);
        return v ? fmt(median(v.wall)) + fmt(median(v.cpu)) : fmt(undefined) + fmt(undefined);
      });
      console.log(key.padEnd(34) + cells.join(''));
    }
    opts.runtimes.forEach((r, k) => console.log(`${k}: ${r} (${opts.runs} runs, medians; ms since each process started)`));
    if (opts.chrome) {
      const events = last.flatMap((evs, k) =>
        evs.map((e) => ({
          name: e.label,
          ph: 'i',
          s: 'p',
          ts: Math.round(e.epochMs * 1000),
          pid: k * 10 + (e.who === 'S' ? 2 : 1),
          tid: 0,
          args: { cpuMs: e.cpuMs },
        })),
      );
      const names = opts.runtimes.flatMap((r, k) => [
        { name: 'process_name', ph: 'M', pid: k * 10 + 1, args: { name: `${k} CLI ${r}` } },
        { name: 'process_name', ph: 'M', pid: k * 10 + 2, args: { name: `${k} init stage` } },
      ]);
      writeFileSync(opts.chrome, JSON.stringify({ traceEvents: [...names, ...events] }));
      console.log(`wrote ${opts.chrome}`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main();
