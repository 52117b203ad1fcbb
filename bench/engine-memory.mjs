// Memory of a container engine's processes, from /proc/<pid>/smaps_rollup (PSS: shared pages are
// divided among the processes that map them, so the sum over processes is what they cost together).
// Used by bench/engine.mjs; Linux only, root (smaps_rollup of other users' processes).
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';

/** Daemons: one per engine whatever the number of containers. Every other kind is per container. */
export const DAEMON_KINDS = new Set(['gantryd', 'gantry-containerd', 'dockerd', 'containerd']);

function readProc(pid) {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const mntns = readlinkSync(`/proc/${pid}/ns/mnt`);
    return { pid, ppid, argv, mntns };
  } catch {
    return undefined; // exited meanwhile, or a kernel thread
  }
}

/** Every process of the machine: pid, ppid, argv, mount namespace. */
function processTable() {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .map((e) => readProc(Number(e)))
    .filter((p) => p !== undefined && p.argv.length > 0);
}

/** PSS of a process in KiB, or undefined when it has exited. */
function pssKiB(pid) {
  try {
    const m = /^Pss:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What a process is: the script a Node process runs (gantryd is packages/engine/dist/main.js, the
 * other packages' main.js are named after their package), else the program's name.
 */
function kindOf(argv) {
  const prog = basename(argv[0]);
  if (prog === 'node' || prog.startsWith('node')) {
    const script = argv.slice(1).find((a) => !a.startsWith('-'));
    // tsc's output (dist/main.js) or a bundle (dist/bundle/main.js)
    const m = script && /packages\/([^/]+)\/dist\/(?:bundle\/)?([^/]+)\.js$/.exec(script);
    if (m) return m[1] === 'engine' ? 'gantryd' : `gantry-${m[1]}${m[2] === 'main' ? '' : `:${m[2]}`}`;
    return script ? `node ${basename(script)}` : 'node';
  }
  return prog;
}

/**
 * The processes of one engine: its daemon, every process whose command line names the engine's
 * private directory (its containerd, shims), and their descendants, less the containers' own
 * processes (those in a mount namespace other than ours: the workload, the same on both engines).
 */
export function engineProcesses(daemonPid, dir) {
  const table = processTable();
  const hostNs = readlinkSync('/proc/self/ns/mnt');
  const mine = new Set(table.filter((p) => p.pid === daemonPid || p.argv.some((a) => a === dir || a.includes(`${dir}/`))).map((p) => p.pid));
  for (let grew = true; grew;) {
    grew = false;
    for (const p of table) {
      if (!mine.has(p.pid) && mine.has(p.ppid)) {
        mine.add(p.pid);
        grew = true;
      }
    }
  }
  return table.filter((p) => mine.has(p.pid) && p.pid !== process.pid && p.mntns === hostNs);
}

/** PSS per process kind of an engine: { kind: { count, kib } }, and the total. */
export function memorySnapshot(daemonPid, dir) {
  const kinds = {};
  let total = 0;
  for (const p of engineProcesses(daemonPid, dir)) {
    const kib = pssKiB(p.pid);
    if (kib === undefined) continue;
    const k = (kinds[kindOf(p.argv)] ??= { count: 0, kib: 0 });
    k.count++;
    k.kib += kib;
    total += kib;
  }
  return { kinds, totalKiB: total };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const round1 = (x) => Math.round(x * 10) / 10;
const ratio = (g, d) => (d === undefined || d === null || d === 0 ? null : Number((g / d).toFixed(2)));

/** Memory of an engine ({ daemonPid(), dir }), settled: the median-total of three snapshots one second apart. */
export async function settledMemory(t) {
  const snaps = [];
  for (let i = 0; i < 3; i++) {
    if (i > 0) await sleep(1000);
    snaps.push(memorySnapshot(t.daemonPid(), t.dir));
  }
  return snaps.sort((a, b) => a.totalKiB - b.totalKiB)[1];
}

/** PSS (KiB) of a snapshot's daemons (daemon true) or of its per-container processes (false). */
export const sumKinds = (snap, daemon) =>
  Object.entries(snap.kinds)
    .filter(([k]) => DAEMON_KINDS.has(k) === daemon)
    .reduce((s, [, v]) => s + v.kib, 0);

/**
 * Memory rows (MiB) from the snapshots ({ gantryd, dockerd? }: { base, loaded }) before and after
 * `n` idle containers started; `running`: the containers running when `loaded` was taken.
 */
export function memoryRows(mem, n, running = n) {
  const row = (what, f) => {
    const g = f(mem.gantryd);
    const d = mem.dockerd ? f(mem.dockerd) : undefined;
    return { what, gantryd_mib: round1(g / 1024), dockerd_mib: d === undefined ? null : round1(d / 1024), ratio: ratio(g, d) };
  };
  return [
    // what one more container costs: all of the engine's processes, daemons' growth included
    row('per container', (m) => (m.loaded.totalKiB - m.base.totalKiB) / n),
    // the processes that live as long as a container (shims), per running container
    row('shims per container', (m) => sumKinds(m.loaded, false) / running),
    row('daemons', (m) => sumKinds(m.loaded, true)),
    row('all processes', (m) => m.loaded.totalKiB),
  ];
}
