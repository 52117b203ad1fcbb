/**
 * Leak soak and fault injection against a private gantryd (GantrydHarness), driven by the real
 * docker CLI. Used by `npm run soak` / `npm run faults` (bench/soak.mjs, bench/faults.mjs, which
 * transpile this file) and by the short e2e versions (test/soak-short, test/faults-short).
 *
 * What is "ours" on a host shared with other gantryds: everything under the harness directory
 * (mounts, netns files, host-local leases of user networks), the default bridge, which each run
 * names itself (`gantryd --bridge gs<hex>`, so its leases and rules are ours too), the user
 * network's bridge, and cgroups, processes and iptables rules that name one of our containers,
 * bridges, subnets or CNI network names.
 */
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { GantrydHarness } from './gantryd';

export interface Snapshot {
  label: string;
  /** ms since the run started */
  at: number;
  mounts: string[];
  cgroups: string[];
  /** our bridges and the interfaces enslaved to them (host ends of veths) */
  links: string[];
  netns: string[];
  /** `table/chain` → number of our rules in it */
  iptables: Record<string, number>;
  leases: string[];
  /** shims serving a task (or not identifiable as the idle warm spare) */
  shims: number[];
  /** idle warm spare shims (gantry-shim --warm, waiting for the next task: at most one, by design) */
  spareShims: number[];
  /** what each of those shims is (describeShim), so a leak report explains itself */
  shimInfo: Record<number, string>;
  /** processes in one of our containers' cgroups */
  containerProcs: number[];
  fds: { gantryd: number; containerd: number };
  /** whose fds and RSS these are (gantry-containerd's changes when it is restarted) */
  pids: { gantryd: number; containerd: number };
  /** open fds by kind (socket, pipe, anon_inode:…, or the file's directory) */
  fdKinds: { gantryd: Record<string, number>; containerd: Record<string, number> };
  /** VmRSS, KiB */
  rss: { gantryd: number; containerd: number };
}

/** The markers by which rules, links and cgroups of this run are recognised. */
export class SoakEnv {
  readonly ids = new Set<string>();
  readonly bridges: string[] = [];
  readonly subnetPrefixes: string[] = [];
  readonly cniNames: string[] = [];
  readonly ipamDirs: string[] = [];
  private readonly t0 = Date.now();

  constructor(
    readonly h: GantrydHarness,
    readonly defaultBridge: string,
  ) {
    this.bridges.push(defaultBridge);
    this.cniNames.push(`gantry-${defaultBridge}`);
    this.ipamDirs.push(join('/run/gantry-cni', defaultBridge), join(h.dir, 'data', 'network', 'ipam'));
  }

  /**
   * Start gantryd with a default bridge of its own and load busybox. The bridge is made here, on
   * a random /24 of 10/8 (gantryd adopts an existing link as it is): left to gantryd, it would take
   * the first free 172.x/16, which a gantryd starting at the same time in another jest worker
   * would take as well, and each run would count the other's rules and leases as its own.
   */
  static async start(prefix: string, daemonEnv: NodeJS.ProcessEnv = {}): Promise<SoakEnv> {
    const br = `gs${randomBytes(3).toString('hex')}`;
    const gateway = `10.${100 + Math.floor(Math.random() * 150)}.${Math.floor(Math.random() * 256)}.1/24`;
    for (const args of [
      ['link', 'add', 'name', br, 'type', 'bridge'],
      ['addr', 'add', gateway, 'dev', br],
    ]) {
      const r = spawnSync('ip', args, { encoding: 'utf8' });
      if (r.status !== 0) {
        removeBridge(br);
        throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
      }
    }
    let h: GantrydHarness;
    try {
      h = await GantrydHarness.start(prefix, ['--bridge', br], [], daemonEnv);
    } catch (e) {
      removeBridge(br);
      throw e;
    }
    const env = new SoakEnv(h, br);
    try {
      h.loadBusybox();
      const subnet = h.ok(['network', 'inspect', 'bridge', '-f', '{{(index .IPAM.Config 0).Subnet}}']).trim();
      env.subnetPrefixes.push(subnetPrefix(subnet));
    } catch (e) {
      await env.stop();
      throw e;
    }
    return env;
  }

  /** A user network on a random /24 of 10/8 (the subnet other tests pick the same way). */
  createNetwork(name: string): string {
    const subnet = `10.${100 + Math.floor(Math.random() * 150)}.${Math.floor(Math.random() * 256)}.0/24`;
    const id = this.h.ok(['network', 'create', '--subnet', subnet, name]).trim();
    this.bridges.push(`gt-${id.slice(0, 12)}`);
    this.cniNames.push(`gantry-${id.slice(0, 12)}`);
    this.subnetPrefixes.push(subnetPrefix(subnet));
    return id;
  }

  get containerdPidFile(): string {
    return join(this.h.dir, 'run', 'containerd', 'gantry-containerd.pid');
  }

  get containerdSocket(): string {
    return join(this.h.dir, 'run', 'containerd', 'containerd.sock');
  }

  containerdPid(): number | undefined {
    try {
      const pid = Number(fs.readFileSync(this.containerdPidFile, 'utf8').trim());
      return Number.isInteger(pid) && pid > 0 && alive(pid) ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  /** docker, asynchronously; never rejects (the status says how it went; null: killed at the timeout). */
  docker(args: string[], timeoutMs = 120000): Promise<{ status: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile('docker', args, { env: this.h.env(), encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
        const status = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : null) : 0;
        resolve({ status, stdout, stderr });
      });
    });
  }

  async dockerOk(args: string[]): Promise<string> {
    const r = await this.docker(args);
    if (r.status !== 0) throw new Error(`docker ${args.join(' ')}: exit ${r.status}: ${r.stderr.trim()}`);
    return r.stdout;
  }

  /** gantry-shim processes started under our directory. */
  shims(): number[] {
    return procs()
      .filter((p) => p.cmdline.includes(this.h.dir) && /shim\/dist\/(bundle\/)?main\.js|gantry-shim/.test(p.cmdline))
      .map((p) => p.pid);
  }

  /** The container a shim serves: `--id` on its command line, or (a warm shim) the bundle its fds name. */
  shimContainer(pid: number): string | undefined {
    try {
      const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      const i = argv.indexOf('--id');
      if (i >= 0 && argv[i + 1]) return argv[i + 1];
      for (const fd of safeReaddir(`/proc/${pid}/fd`)) {
        const m = /\/([0-9a-f]{64})(\/|$)/.exec(safeReadlink(`/proc/${pid}/fd/${fd}`));
        if (m) return m[1];
      }
    } catch {
      // gone
    }
    return undefined;
  }

  /** pid → container id, for processes in one of our containers' cgroups. */
  containerProcs(): Map<number, string> {
    const out = new Map<number, string>();
    if (this.ids.size === 0) return out;
    for (const p of procs()) {
      let cg: string;
      try {
        cg = fs.readFileSync(`/proc/${p.pid}/cgroup`, 'utf8');
      } catch {
        continue;
      }
      const m = /\/gantry\/([0-9a-f]{64})/.exec(cg);
      if (m && this.ids.has(m[1]!)) out.set(p.pid, m[1]!);
    }
    return out;
  }

  snapshot(label: string): Snapshot {
    const dir = this.h.dir;
    const mounts = fs
      .readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .filter((l) => l.includes(dir) || [...this.ids].some((id) => l.includes(id)))
      .map((l) => l.split(' ')[4]!)
      .sort();
    const cgroups: string[] = [];
    for (const ctl of safeReaddir('/sys/fs/cgroup')) {
      for (const e of safeReaddir(join('/sys/fs/cgroup', ctl, 'gantry'))) if (this.ids.has(e)) cgroups.push(`${ctl}/gantry/${e}`);
    }
    const links: string[] = [];
    for (const l of run('ip', ['-o', 'link']).split('\n')) {
      const name = /^\d+:\s+([^:@\s]+)/.exec(l)?.[1];
      const master = /\smaster\s+(\S+)/.exec(l)?.[1];
      if (!name) continue;
      if (this.bridges.includes(name)) links.push(name);
      else if (master && this.bridges.includes(master)) links.push(`${master}:${name}`);
    }
    links.sort();
    const iptables: Record<string, number> = {};
    for (const table of ['filter', 'nat', 'raw']) {
      for (const line of run('iptables-save', ['-t', table]).split('\n')) {
        const m = /^-A (\S+) /.exec(line);
        if (!m || !this.ours(line)) continue;
        const k = `${table}/${m[1]}`;
        iptables[k] = (iptables[k] ?? 0) + 1;
      }
    }
    const leases = this.ipamDirs
      .flatMap((d) => safeReaddir(d, true).map((f) => join(d, f)))
      .filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f.split('/').pop()!))
      .sort();
    const gpid = this.h.daemon?.pid;
    const cpid = this.containerdPid();
    const all = this.shims();
    const shims = all.filter((p) => !this.isIdleSpare(p));
    const spareShims = all.filter((p) => !shims.includes(p));
    return {
      label,
      at: Date.now() - this.t0,
      mounts,
      cgroups: cgroups.sort(),
      links,
      netns: safeReaddir(join(dir, 'run', 'netns')).sort(),
      iptables,
      leases,
      shims,
      spareShims,
      shimInfo: Object.fromEntries([...shims, ...spareShims].map((p) => [p, describeShim(p)])),
      containerProcs: [...this.containerProcs().keys()],
      fds: { gantryd: fdCount(gpid), containerd: fdCount(cpid) },
      pids: { gantryd: gpid ?? 0, containerd: cpid ?? 0 },
      fdKinds: { gantryd: fdKinds(gpid), containerd: fdKinds(cpid) },
      rss: { gantryd: rssKiB(gpid), containerd: rssKiB(cpid) },
    };
  }

  private isIdleSpare(pid: number): boolean {
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('--warm') && this.shimContainer(pid) === undefined;
    } catch {
      return false;
    }
  }

  private ours(line: string): boolean {
    return (
      this.bridges.some((b) => new RegExp(`\\s${b}(\\s|$)`).test(line)) ||
      this.subnetPrefixes.some((p) => line.includes(p)) ||
      this.cniNames.some((n) => line.includes(`"${n}"`) || line.includes(`\\"${n}\\"`)) ||
      [...this.ids].some((id) => line.includes(id))
    );
  }

  /**
   * Poll snapshots until nothing is left compared with `base` (asynchronous teardown, e.g. a shim
   * exiting after its task is deleted, is given `timeoutMs` to finish) and return the last one.
   */
  async settle(label: string, base: Snapshot, timeoutMs = 20000): Promise<{ snap: Snapshot; leaks: string[] }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const snap = this.snapshot(label);
      const leaks = diff(base, snap);
      if (leaks.length === 0 || Date.now() > deadline) return { snap, leaks };
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** Stop gantryd (harness teardown), then remove the default bridge, its rules and lease dir. */
  async stop(): Promise<void> {
    await this.h.stop();
    removeBridge(this.defaultBridge);
  }
}

/** What `end` has that `base` did not: each entry names the kind and the thing. */
export function diff(base: Snapshot, end: Snapshot): string[] {
  const leaks: string[] = [];
  const extra = <T>(kind: string, a: T[], b: T[]) => {
    for (const x of b) if (!a.includes(x)) leaks.push(`${kind}: ${String(x)}`);
  };
  extra('mount', base.mounts, end.mounts);
  extra('cgroup', base.cgroups, end.cgroups);
  extra('link', base.links, end.links);
  extra('netns', base.netns, end.netns);
  extra('lease', base.leases, end.leases);
  for (const pid of end.shims) if (!base.shims.includes(pid)) leaks.push(`shim: ${pid} (${end.shimInfo[pid] ?? 'gone'})`);
  if (end.spareShims.length > 1)
    leaks.push(`shim: ${end.spareShims.length} idle spare shims (${end.spareShims.map((p) => `${p}: ${end.shimInfo[p] ?? 'gone'}`).join('; ')})`);
  extra('container process', base.containerProcs, end.containerProcs);
  for (const [k, n] of Object.entries(end.iptables))
    if (n > (base.iptables[k] ?? 0)) leaks.push(`iptables: ${k} has ${n} rules of ours (was ${base.iptables[k] ?? 0})`);
  for (const d of ['gantryd', 'containerd'] as const) {
    // gantry-containerd holds the stdin pipe of its idle warm spare shim (started after the first task)
    const allowed = base.fds[d] + (d === 'containerd' ? Math.max(0, end.spareShims.length - base.spareShims.length) : 0);
    // a restarted gantry-containerd starts from scratch: only compare the same process
    if (end.fds[d] > allowed && base.pids[d] === end.pids[d]) leaks.push(`fds: ${d} has ${end.fds[d]} open (was ${base.fds[d]})`);
  }
  return leaks;
}

export interface SoakOptions {
  count: number;
  parallel: number;
  /** the "after the first N" snapshot (100 in the full soak) */
  warmup: number;
  log?: (line: string) => void;
}

export interface SoakResult {
  count: number;
  parallel: number;
  warmup: number;
  seconds: number;
  containersPerSecond: number;
  failures: string[];
  snapshots: Snapshot[];
  leaks: string[];
  /** end RSS / after-warmup RSS */
  rssRatio: { gantryd: number; containerd: number };
  rssWithin10Percent: boolean;
  /** the user network's traces left after `network rm` */
  networkLeaks: string[];
  /** RSS (KiB) every 50 containers, to tell growth that levels off from growth that does not */
  rssTrace: { done: number; gantryd: number; containerd: number }[];
}

export const TRAP_SLEEP = ['busybox', 'sh', '-c', 'trap "exit 0" TERM; sleep 600 & wait'];

/**
 * The leak soak: `count` containers, `parallel` at a time, each created, started, stopped and
 * removed; i%3 = 0 on a user network with a published port, 1 with a named volume (removed too), 2
 * plain. Snapshots before, after the first `warmup`, and at the end.
 */
export async function runSoak(opts: SoakOptions): Promise<SoakResult> {
  const log = opts.log ?? (() => undefined);
  const env = await SoakEnv.start('gsk-');
  const tag = `sk${randomBytes(3).toString('hex')}`;
  const failures: string[] = [];
  const rssTrace: SoakResult['rssTrace'] = [];
  try {
    const net = `${tag}-net`;
    env.createNetwork(net);
    const before = env.snapshot('before');
    log(`gantryd at ${env.h.dir}; default bridge ${env.defaultBridge}; network ${net}`);

    const one = async (i: number): Promise<void> => {
      const name = `${tag}-${i}`;
      const vol = `${tag}v${i}`;
      const kind = i % 3;
      const extra = kind === 0 ? ['--network', net, '-p', '127.0.0.1::80'] : kind === 1 ? ['-v', `${vol}:/data`] : [];
      try {
        const id = (await env.dockerOk(['create', '--name', name, ...extra, ...TRAP_SLEEP])).trim();
        env.ids.add(id);
        await env.dockerOk(['start', name]);
        await env.dockerOk(['stop', '-t', '10', name]);
        await env.dockerOk(['rm', name]);
        if (kind === 1) await env.dockerOk(['volume', 'rm', vol]);
      } catch (e) {
        failures.push(`${name}: ${(e as Error).message}`);
        await env.docker(['rm', '-f', name]);
        if (kind === 1) await env.docker(['volume', 'rm', '-f', vol]);
      }
    };
    const phase = async (from: number, to: number): Promise<number> => {
      const t = Date.now();
      let next = from;
      let done = 0;
      const worker = async () => {
        for (let i = next++; i < to; i = next++) {
          await one(i);
          if (++done % 50 === 0) {
            const rss = { gantryd: rssKiB(env.h.daemon?.pid), containerd: rssKiB(env.containerdPid()) };
            rssTrace.push({ done: from + done, ...rss });
            log(`  ${from + done}/${opts.count} done, ${failures.length} failures; rss gantryd ${rss.gantryd} KiB, gantry-containerd ${rss.containerd} KiB`);
          }
        }
      };
      await Promise.all(Array.from({ length: opts.parallel }, worker));
      return Date.now() - t;
    };

    const warmup = Math.min(opts.warmup, opts.count);
    let ms = await phase(0, warmup);
    const afterWarmup = (await env.settle(`after ${warmup}`, before)).snap;
    log(`after ${warmup}: rss gantryd ${afterWarmup.rss.gantryd} KiB, gantry-containerd ${afterWarmup.rss.containerd} KiB`);
    ms += await phase(warmup, opts.count);
    const { snap: end, leaks } = await env.settle('end', before);
    const ratio = (d: 'gantryd' | 'containerd') => (afterWarmup.rss[d] > 0 ? end.rss[d] / afterWarmup.rss[d] : 0);
    const rssRatio = { gantryd: ratio('gantryd'), containerd: ratio('containerd') };

    // the user network itself goes with `network rm`: its bridge, rules and lease directory
    await env.dockerOk(['network', 'rm', net]);
    const userBridge = env.bridges[1]!;
    const networkLeaks = [
      ...env
        .snapshot('network removed')
        .links.filter((l) => l.startsWith(userBridge))
        .map((l) => `link: ${l}`),
      ...['filter', 'nat', 'raw'].flatMap((t) =>
        run('iptables-save', ['-t', t])
          .split('\n')
          .filter(
            (l) =>
              l.startsWith('-A ') &&
              (new RegExp(`\\s${userBridge}(\\s|$)`).test(l) || l.includes(env.subnetPrefixes[1]!) || l.includes(`"${env.cniNames[1]!}`)),
          )
          .map((l) => `iptables ${t}: ${l}`),
      ),
    ];
    return {
      count: opts.count,
      parallel: opts.parallel,
      warmup,
      seconds: ms / 1000,
      containersPerSecond: opts.count / (ms / 1000),
      failures,
      snapshots: [before, afterWarmup, end],
      leaks,
      rssRatio,
      rssWithin10Percent: rssRatio.gantryd <= 1.1 && rssRatio.containerd <= 1.1,
      networkLeaks,
      rssTrace,
    };
  } finally {
    await env.stop();
  }
}

/** A small seeded PRNG (mulberry32): the same seed gives the same kill schedule. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Where a kill happens: right after a docker request for container `index` is sent, or after its reply. */
export interface Kill {
  index: number;
  point: 'run-sent' | 'run-replied' | 'rm-sent';
  target: 'containerd' | 'shim';
}

export interface FaultOptions {
  count: number;
  kills: number;
  seed: number;
  parallel: number;
  /** a schedule of its own instead of faultSchedule(seed, count, kills) */
  schedule?: Kill[];
  log?: (line: string) => void;
}

export interface Agreement {
  id: string;
  name?: string;
  docker?: string;
  ctrContainer: boolean;
  ctrTask?: string;
  shim: boolean;
  processes: number;
}

export interface FaultResult {
  seed: number;
  count: number;
  schedule: Kill[];
  killed: { kill: Kill; pid?: number; note: string }[];
  /** docker requests that failed (expected around a kill) */
  failures: string[];
  containerdRestarts: number;
  /** one row per container id seen anywhere, at the first moment all views agreed (or the last look) */
  views: Agreement[];
  disagreements: string[];
  leaks: string[];
  seconds: number;
}

/** A schedule of `kills` kills for `count` containers: points spread over the run, shims only where one exists. */
export function faultSchedule(seed: number, count: number, kills: number): Kill[] {
  const rnd = prng(seed);
  const points: Kill['point'][] = ['run-sent', 'run-replied', 'rm-sent'];
  const out: Kill[] = [];
  for (let k = 0; k < kills; k++) {
    const point = points[Math.floor(rnd() * points.length)]!;
    // a shim exists once `run -d` answered; before that only gantry-containerd can be the target
    const target: Kill['target'] = point === 'run-replied' && rnd() < 0.5 ? 'shim' : 'containerd';
    const index = Math.floor(rnd() * count);
    // one kill per point: a second would find the same process, or none while it restarts
    if (out.some((k) => k.index === index && k.point === point) && out.length < count * points.length) {
      k--;
      continue;
    }
    out.push({ index, point, target });
  }
  return out.sort((a, b) => a.index - b.index);
}

/**
 * Faults: `count` containers run (`run -d`; every other one on a user network with a published
 * port) and every other one removed (`rm -f`) while gantry-containerd and shims are killed -9 at the
 * scheduled points; gantryd restarts gantry-containerd. Then docker, gantry-containerd (ctr) and
 * /proc must agree on every container, and after removing the rest nothing is left.
 */
export async function runFaults(opts: FaultOptions): Promise<FaultResult> {
  const log = opts.log ?? (() => undefined);
  const env = await SoakEnv.start('gft-');
  const tag = `ft${randomBytes(3).toString('hex')}`;
  const schedule = opts.schedule ?? faultSchedule(opts.seed, opts.count, opts.kills);
  const killed: FaultResult['killed'] = [];
  const failures: string[] = [];
  const containerdPids = new Set<number>();
  const t0 = Date.now();
  try {
    const net = `${tag}-net`;
    env.createNetwork(net);
    const before = env.snapshot('before');
    const first = env.containerdPid();
    if (first) containerdPids.add(first);

    const fire = (index: number, point: Kill['point'], id?: string) => {
      for (const kill of schedule.filter((k) => k.index === index && k.point === point)) {
        let pid: number | undefined;
        if (kill.target === 'containerd') pid = env.containerdPid();
        else if (id) pid = shimOf(env, id);
        if (pid === undefined) {
          killed.push({ kill, note: kill.target === 'containerd' ? 'gantry-containerd not running (restarting)' : 'no shim for the container' });
          continue;
        }
        try {
          process.kill(pid, 'SIGKILL');
          killed.push({ kill, pid, note: 'killed' });
          log(`  kill -9 ${kill.target} ${pid} at ${point} of #${index}`);
        } catch (e) {
          killed.push({ kill, pid, note: (e as Error).message });
        }
      }
    };
    const request = async (index: number, args: string[], sent: Kill['point']) => {
      // a kill of gantry-containerd at this point needs one running: wait for the restart of an earlier kill
      if (schedule.some((k) => k.index === index && k.point === sent && k.target === 'containerd')) await waitContainerd(env);
      const p = env.docker(args, 90000);
      fire(index, sent);
      const r = await p;
      if (r.status !== 0)
        failures.push(
          `#${index} docker ${args[0]}: exit ${r.status}: ${r.stderr
            .trim()
            .split('\n')
            .filter((l) => l && !l.startsWith("Run 'docker"))
            .join(' / ')}`,
        );
      const pid = env.containerdPid();
      if (pid) containerdPids.add(pid);
      return r;
    };
    const one = async (i: number) => {
      const name = `${tag}-${i}`;
      const extra = i % 2 === 0 ? ['--network', net, '-p', '127.0.0.1::80'] : [];
      const r = await request(i, ['run', '-d', '--name', name, ...extra, ...TRAP_SLEEP], 'run-sent');
      const id = r.stdout.trim();
      if (/^[0-9a-f]{64}$/.test(id)) env.ids.add(id);
      else await noteId(env, name);
      if (schedule.some((k) => k.index === i && k.point === 'run-replied' && k.target === 'containerd')) await waitContainerd(env);
      fire(i, 'run-replied', id);
      if (i % 2 === 1) await request(i, ['rm', '-f', name], 'rm-sent');
    };
    let next = 0;
    await Promise.all(
      Array.from({ length: opts.parallel }, async () => {
        for (let i = next++; i < opts.count; i = next++) await one(i);
      }),
    );
    await waitContainerd(env);
    for (let i = 0; i < opts.count; i++) await noteId(env, `${tag}-${i}`);

    // the views must agree; gantryd reconciles after gantry-containerd comes back, so look until they do
    let views: Agreement[] = [];
    let disagreements: string[] = [];
    const deadline = Date.now() + 30000;
    for (;;) {
      ({ views, disagreements } = await agreement(env));
      if (disagreements.length === 0 || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 250));
    }

    for (const v of views) if (v.docker) await env.docker(['rm', '-f', v.id]);
    const { leaks } = await env.settle('end', before, 30000);
    await env.docker(['network', 'rm', net]);
    const last = env.containerdPid();
    if (last) containerdPids.add(last);
    return {
      seed: opts.seed,
      count: opts.count,
      schedule,
      killed,
      failures,
      containerdRestarts: containerdPids.size - 1,
      views,
      disagreements,
      leaks,
      seconds: (Date.now() - t0) / 1000,
    };
  } finally {
    await env.stop();
  }
}

/** Record the id of container `name` if docker has it (a `run -d` cut short may still have made it). */
async function noteId(env: SoakEnv, name: string): Promise<void> {
  const r = await env.docker(['inspect', '-f', '{{.Id}}', name], 30000);
  if (r.status === 0 && /^[0-9a-f]{64}$/.test(r.stdout.trim())) env.ids.add(r.stdout.trim());
}

/** The shim serving container `id` (its command line names the id). */
function shimOf(env: SoakEnv, id: string): number | undefined {
  return env.shims().find((pid) => env.shimContainer(pid) === id);
}

/** Wait until gantry-containerd runs again and answers on its socket. */
async function waitContainerd(env: SoakEnv, timeoutMs = 60000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (env.containerdPid() !== undefined && ctr(env, ['version']).status === 0) return;
    if (Date.now() > deadline) throw new Error(`gantry-containerd did not come back within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function ctr(env: SoakEnv, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('ctr', ['--address', env.containerdSocket, '-n', 'gantry', ...args], { encoding: 'utf8', timeout: 30000 });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/**
 * docker ps -a, ctr containers/tasks ls and /proc, per container: a container docker shows running
 * has a RUNNING task whose pid lives in its cgroup, and a shim; one docker shows stopped has no
 * running task and no process; one docker does not know has nothing anywhere.
 */
export async function agreement(env: SoakEnv): Promise<{ views: Agreement[]; disagreements: string[] }> {
  const ps = await env.docker(['ps', '-a', '--no-trunc', '--format', '{{.ID}}\t{{.Names}}\t{{.State}}'], 30000);
  const disagreements: string[] = [];
  if (ps.status !== 0) disagreements.push(`docker ps -a failed: ${ps.stderr.trim()}`);
  const docker = new Map<string, { name: string; state: string }>();
  for (const line of ps.stdout.split('\n').filter(Boolean)) {
    const [id, name, state] = line.split('\t');
    docker.set(id!, { name: name!, state: state! });
    env.ids.add(id!);
  }
  const cl = ctr(env, ['containers', 'ls', '-q']);
  const tl = ctr(env, ['tasks', 'ls']);
  if (cl.status !== 0 || tl.status !== 0) disagreements.push(`ctr failed: ${cl.stderr.trim()} ${tl.stderr.trim()}`);
  const ctrContainers = new Set(cl.stdout.split('\n').filter(Boolean));
  const tasks = new Map<string, { pid: number; status: string }>();
  for (const line of tl.stdout.split('\n').slice(1)) {
    const [id, pid, status] = line.trim().split(/\s+/);
    if (id && pid && status) tasks.set(id, { pid: Number(pid), status });
  }
  const procsById = new Map<string, number[]>();
  for (const [pid, id] of env.containerProcs()) procsById.set(id, [...(procsById.get(id) ?? []), pid]);
  const shimIds = new Set<string>();
  for (const pid of env.shims()) {
    const id = env.shimContainer(pid);
    if (id) shimIds.add(id);
  }
  const all = new Set([...docker.keys(), ...ctrContainers, ...tasks.keys(), ...procsById.keys(), ...shimIds]);
  const views: Agreement[] = [];
  for (const id of [...all].sort()) {
    const d = docker.get(id);
    const t = tasks.get(id);
    const p = procsById.get(id) ?? [];
    const v: Agreement = {
      id,
      name: d?.name,
      docker: d?.state,
      ctrContainer: ctrContainers.has(id),
      ctrTask: t?.status,
      shim: shimIds.has(id),
      processes: p.length,
    };
    views.push(v);
    const s = id.slice(0, 12);
    if (!d) {
      if (v.ctrContainer || t || p.length || v.shim) disagreements.push(`${s}: unknown to docker but ${JSON.stringify(v)}`);
    } else if (d.state === 'running') {
      if (!v.ctrContainer || t?.status !== 'RUNNING' || !v.shim || !p.includes(t.pid)) disagreements.push(`${s}: docker says running but ${JSON.stringify(v)}`);
    } else if (d.state === 'created' || d.state === 'exited' || d.state === 'dead') {
      if (t?.status === 'RUNNING' || p.length) disagreements.push(`${s}: docker says ${d.state} but ${JSON.stringify(v)}`);
    } else disagreements.push(`${s}: docker state ${d.state}`);
  }
  return { views, disagreements };
}

/** Remove a bridge gantryd made as its default network: the link, the rules that name it, its leases. */
export function removeBridge(br: string): void {
  spawnSync('ip', ['link', 'del', br]);
  for (const table of ['filter', 'nat', 'raw']) {
    for (const line of run('iptables-save', ['-t', table]).split('\n')) {
      if (!line.startsWith('-A ') || !new RegExp(`\\s${br}(\\s|$)`).test(line)) continue;
      spawnSync('sh', ['-c', `iptables -w -t ${table} -D ${line.slice(3)}`]);
    }
  }
  fs.rmSync(join('/run/gantry-cni', br), { recursive: true, force: true });
}

function subnetPrefix(cidr: string): string {
  // a /24 (or smaller) subnet: its first three octets name it in rules and lease files
  return cidr.split('.').slice(0, 3).join('.') + '.';
}

function run(cmd: string, args: string[]): string {
  return spawnSync(cmd, args, { encoding: 'utf8' }).stdout ?? '';
}

function safeReaddir(dir: string, recursive = false): string[] {
  try {
    return fs.readdirSync(dir, { recursive }).map(String);
  } catch {
    return [];
  }
}

function procs(): { pid: number; cmdline: string }[] {
  const out: { pid: number; cmdline: string }[] = [];
  for (const e of safeReaddir('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      out.push({ pid: Number(e), cmdline: fs.readFileSync(`/proc/${e}/cmdline`, 'utf8').replace(/\0/g, ' ') });
    } catch {
      // gone
    }
  }
  return out;
}

/**
 * What a shim process is, for a leak report: its task (namespace/id from its command line, else the
 * bundle it works in or holds open), the unix sockets it listens on, its parent, state and age, its
 * children, the last line of its log, and its command line.
 */
export function describeShim(pid: number): string {
  let argv: string[];
  let stat: string;
  try {
    argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return 'gone';
  }
  const flag = (f: string) => (argv.indexOf(f) >= 0 ? argv[argv.indexOf(f) + 1] : undefined);
  // fields after the command name: state, ppid, ... starttime (22nd field overall, in USER_HZ = 100 ticks/s)
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ppid = Number(fields[1]);
  const ageS = Math.round(uptimeS() - Number(fields[19]) / 100);
  // a removed file or directory reads as `<path> (deleted)`
  const cwd = safeReadlink(`/proc/${pid}/cwd`);
  const fds = safeReaddir(`/proc/${pid}/fd`).map((fd) => safeReadlink(`/proc/${pid}/fd/${fd}`).replace(/ \(deleted\)$/, ''));
  const bundle = /\/tasks\/([^/]+)\/([^/ ]+)/.exec([cwd, ...fds].find((t) => /\/tasks\/[^/]+\/[^/]+/.test(t)) ?? '');
  const task = flag('--id')
    ? `${flag('--namespace') ?? '?'}/${flag('--id')}`
    : bundle
      ? `${bundle[1]}/${bundle[2]} (from its bundle)`
      : 'none (an idle spare?)';
  const inodes = new Set(fds.map((t) => /^socket:\[(\d+)\]$/.exec(t)?.[1]).filter((i): i is string => i !== undefined));
  const sockets = fs
    .readFileSync('/proc/net/unix', 'utf8')
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((c) => c.length >= 8 && inodes.has(c[6]!))
    .map((c) => c[7]!);
  const parent = (() => {
    try {
      return `${ppid} ${fs.readFileSync(`/proc/${ppid}/cmdline`, 'utf8').split('\0').filter(Boolean).slice(0, 3).join(' ').slice(0, 160)}`;
    } catch {
      return String(ppid);
    }
  })();
  const children = safeReaddir('/proc').filter((c) => {
    try {
      const st = fs.readFileSync(`/proc/${c}/stat`, 'utf8');
      return st.slice(st.lastIndexOf(')') + 2).split(' ')[1] === String(pid);
    } catch {
      return false;
    }
  });
  const logFile = safeReadlink(`/proc/${pid}/fd/2`);
  let lastLog = '';
  try {
    // through the fd: the log may have been removed with its bundle (a file only: a pipe would block)
    if (logFile.startsWith('/')) lastLog = fs.readFileSync(`/proc/${pid}/fd/2`, 'utf8').trim().split('\n').pop()!.slice(0, 300);
  } catch {
    // gone
  }
  return [
    `task ${task}`,
    `state ${fields[0]}, ${ageS} s old`,
    `parent ${parent}`,
    `children [${children.join(', ')}]`,
    `cwd ${cwd}`,
    `listens on [${sockets.join(', ')}]`,
    `log ${logFile}: ${lastLog}`,
    `cmdline ${argv.join(' ')}`,
  ].join('; ');
}

function uptimeS(): number {
  return Number(fs.readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
}

function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function fdCount(pid: number | undefined): number {
  return pid === undefined ? 0 : safeReaddir(`/proc/${pid}/fd`).length;
}

function rssKiB(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

function safeReadlink(p: string): string {
  try {
    return fs.readlinkSync(p);
  } catch {
    return '';
  }
}

function fdKinds(pid: number | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  if (pid === undefined) return out;
  for (const fd of safeReaddir(`/proc/${pid}/fd`)) {
    const t = safeReadlink(`/proc/${pid}/fd/${fd}`);
    const k = /^(socket|pipe):/.test(t) ? t.split(':')[0]! : t.startsWith('anon_inode:') ? t : t.replace(/\/[^/]*$/, '/');
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}
