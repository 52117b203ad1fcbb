// Pods started per second through the CRI: RunPodSandbox (CNI bridge network) + CreateContainer
// (busybox `sleep 300`) + StartContainer, then StopPodSandbox + RemovePodSandbox for all, against a
// private gantry-containerd and Debian's containerd 1.6 CRI plugin, driven by the same generated
// client (@gantry/api's `cri`) with the same images.
//
// Usage (root, after `npm run build`): node bench/cri-pods.mjs [--pods N] [--parallel P] [--rounds R]
//   --pods N      pods per round (default 10)
//   --parallel P  pods started (and torn down) at once (default 1)
//   --rounds R    rounds per runtime, interleaved gantry, containerd, gantry, ... (default 1)
// Writes bench/results/cri-pods.json. Each daemon runs in private mount/net/IPC namespaces
// (tools/critest.sh's way for gantry, /work/shared/cri/critest-containerd.sh for containerd), so
// its bridge, veths and pod netns go away with it; both are stopped at the end, and the pods'
// cgroup parent is removed.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { callMetadata, clientOn, cri, unaryCall, unixChannel } = require('@gantry/api');

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const PODS = opt('--pods', 10);
const PARALLEL = opt('--parallel', 1);
const ROUNDS = opt('--rounds', 1);
const CTD_SCRIPT = process.env.CRITEST_CONTAINERD ?? '/work/shared/cri/critest-containerd.sh';
const MKIMAGE = process.env.MKIMAGE ?? '/work/shared/cri/mkimage.py';
const BUSYBOX = 'registry.k8s.io/e2e-test-images/busybox:1.29-2';
const CGROUP_PARENT = '/cri-pods-bench';
const GBASE = '/tmp/criperf-bench-gantry';
const CBASE = '/tmp/criperf-bench-containerd';

const sh = (cmd, argv, env = {}) => {
  const r = spawnSync(cmd, argv, { encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')}: exit ${r.status}: ${r.stderr || r.stdout}`);
  return r.stdout;
};
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
async function until(what, check, timeoutMs = 30000) {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}
const hasCmd = (c) => spawnSync('sh', ['-c', `command -v ${c}`]).status === 0;

/** Kill every process left in the mount namespace `mnt` (the daemon's shims), by pid. */
function killNamespace(mnt) {
  for (const p of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      if (readlinkSync(`/proc/${p}/ns/mnt`) === mnt) process.kill(Number(p), 'SIGKILL');
    } catch {
      // gone already
    }
  }
}

/** A private gantry-containerd as tools/critest.sh starts it: its own namespaces, CNI config and busybox. */
const gantry = {
  name: 'gantry-containerd',
  socket: join(GBASE, 'c.sock'),
  pid: 0,
  async start() {
    rmSync(GBASE, { recursive: true, force: true });
    mkdirSync(join(GBASE, 'net.d'), { recursive: true });
    writeFileSync(join(GBASE, 'net.d', '10-bench.conflist'), conflist(join(GBASE, 'ipam')));
    writeFileSync(join(GBASE, 'config.toml'), `[cri]\ncni_conf_dir = "${GBASE}/net.d"\nstate_dir = "${GBASE}/cri"\ncgroup_parent = "${CGROUP_PARENT}"\n`);
    const pidf = join(GBASE, 'daemon.pid');
    const inner = `set -e; echo $$ > ${pidf}; ip link set lo up; exec ${repo}/bin/gantry-containerd --address ${this.socket} --root ${GBASE}/root --state ${GBASE}/state --config ${GBASE}/config.toml`;
    const log = join(GBASE, 'daemon.log');
    spawn('sh', ['-c', `exec setsid unshare --mount --net --ipc --propagation private sh -c '${inner}' > ${log} 2>&1 < /dev/null`], {
      stdio: 'ignore',
      detached: true,
    }).unref();
    await until('gantry-containerd socket', () => existsSync(this.socket) && existsSync(pidf) && readFileSync(pidf, 'utf8').trim() !== '');
    this.pid = Number(readFileSync(pidf, 'utf8').trim());
    const tar = join(GBASE, 'busybox.tar');
    sh('python3', [MKIMAGE, tar, BUSYBOX, '[]', '["sh"]', '/usr/bin/busybox=/bin/busybox', '--busybox-links', '--etc']);
    sh('ctr', ['-a', this.socket, '-n', 'k8s.io', 'images', 'import', tar]);
  },
  async stop() {
    // a start that timed out waiting for the socket still left a pid file
    const pidf = join(GBASE, 'daemon.pid');
    if (!this.pid && existsSync(pidf)) this.pid = Number(readFileSync(pidf, 'utf8').trim());
    if (!this.pid) return;
    let mnt;
    try {
      mnt = readlinkSync(`/proc/${this.pid}/ns/mnt`);
    } catch {
      return;
    }
    process.kill(this.pid, 'SIGTERM');
    await until('gantry-containerd exit', () => !existsSync(`/proc/${this.pid}`), 20000).catch(() => undefined);
    killNamespace(mnt); // the daemon too, if it did not exit
    this.pid = 0;
  },
};

/** Debian's containerd 1.6 CRI plugin through the shared script (private namespaces, pause and busybox images). */
const containerd = {
  name: 'containerd 1.6 CRI',
  socket: join(CBASE, 'containerd.sock'),
  async start() {
    rmSync(CBASE, { recursive: true, force: true });
    sh('bash', [CTD_SCRIPT, 'start'], { BASE: CBASE });
    sh('bash', [CTD_SCRIPT, 'images'], { BASE: CBASE });
  },
  async stop() {
    spawnSync('bash', [CTD_SCRIPT, 'stop'], { env: { ...process.env, BASE: CBASE }, stdio: 'ignore' });
  },
};

function conflist(ipamDir) {
  return JSON.stringify({
    cniVersion: '0.4.0',
    name: 'cri-pods-bench',
    plugins: [
      {
        type: 'bridge',
        bridge: 'cribench0',
        isGateway: true,
        ipMasq: false,
        ipam: { type: 'host-local', dataDir: ipamDir, ranges: [[{ subnet: '10.98.0.0/16' }]], routes: [{ dst: '0.0.0.0/0' }] },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  });
}

/** Run `fn(i)` for i in [0, n) with at most `p` at once. */
async function pool(n, p, fn) {
  let next = 0;
  const worker = async () => {
    while (next < n) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(p, n) }, worker));
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** One round against a running daemon: start `n` pods, then tear them all down. */
async function round(target, tag, n = PODS) {
  const channel = unixChannel(target.socket);
  const rt = clientOn(cri.RuntimeServiceClient, channel);
  const call = (method, req) => unaryCall(rt, method, req, callMetadata(), 120000);
  const logDir = join(dirname(target.socket), 'logs');
  const pods = [];
  const startMs = [];
  const t0 = performance.now();
  await pool(n, PARALLEL, async (i) => {
    const name = `bench-${tag}-${i}`;
    const s = performance.now();
    const config = cri.PodSandboxConfig.fromPartial({
      metadata: { name, uid: `uid-${name}`, namespace: 'bench', attempt: 0 },
      logDirectory: join(logDir, name),
      linux: { cgroupParent: CGROUP_PARENT },
    });
    const { podSandboxId } = await call(rt.runPodSandbox, cri.RunPodSandboxRequest.fromPartial({ config }));
    pods.push(podSandboxId);
    const { containerId } = await call(
      rt.createContainer,
      cri.CreateContainerRequest.fromPartial({
        podSandboxId,
        config: { metadata: { name: 'sleep' }, image: { image: BUSYBOX }, command: ['sleep', '300'], logPath: 'sleep.log' },
        sandboxConfig: config,
      }),
    );
    await call(rt.startContainer, { containerId });
    startMs.push(performance.now() - s);
  });
  const startS = (performance.now() - t0) / 1000;
  const { containers } = await call(rt.listContainers, cri.ListContainersRequest.fromPartial({}));
  const running = containers.filter((c) => c.state === cri.ContainerState.CONTAINER_RUNNING).length;
  if (running !== n) throw new Error(`${target.name}: ${running} of ${n} containers running`);
  const stopMs = [];
  const t1 = performance.now();
  await pool(pods.length, PARALLEL, async (i) => {
    const s = performance.now();
    await call(rt.stopPodSandbox, { podSandboxId: pods[i] });
    await call(rt.removePodSandbox, { podSandboxId: pods[i] });
    stopMs.push(performance.now() - s);
  });
  const stopS = (performance.now() - t1) / 1000;
  const left = await call(rt.listPodSandbox, cri.ListPodSandboxRequest.fromPartial({}));
  if (left.items.length) throw new Error(`${target.name}: ${left.items.length} pods left after removal`);
  channel.close();
  return { startS, startPerS: n / startS, startMedianMs: median(startMs), stopS, stopPerS: n / stopS, stopMedianMs: median(stopMs) };
}

const targets = [gantry];
let note = '';
if (hasCmd('containerd') && existsSync(CTD_SCRIPT)) targets.push(containerd);
else note = 'containerd (or critest-containerd.sh) not installed: gantry-containerd alone';
if (note) console.log(note);

const load = { before: loadavg() };
const results = Object.fromEntries(targets.map((t) => [t.name, []]));
try {
  for (const t of targets) await t.start();
  // one warm-up pod each (first snapshot, CNI plugin binaries in the page cache), not counted
  for (const t of targets) await round(t, 'warm', 1);
  for (let r = 0; r < ROUNDS; r++) for (const t of targets) results[t.name].push(await round(t, `r${r}`));
} finally {
  for (const t of targets) await t.stop();
  try {
    for (const d of readdirSync(`/sys/fs/cgroup${CGROUP_PARENT}`, { withFileTypes: true }))
      if (d.isDirectory()) rmdirSync(`/sys/fs/cgroup${CGROUP_PARENT}/${d.name}`);
    rmdirSync(`/sys/fs/cgroup${CGROUP_PARENT}`);
  } catch (e) {
    if (e.code !== 'ENOENT') console.error(`cgroup ${CGROUP_PARENT} left: ${e.message}`);
  }
}
load.after = loadavg();

const summary = Object.fromEntries(
  Object.entries(results).map(([name, rs]) => [
    name,
    {
      startPerS: median(rs.map((r) => r.startPerS)),
      startMedianMs: median(rs.map((r) => r.startMedianMs)),
      stopPerS: median(rs.map((r) => r.stopPerS)),
      stopMedianMs: median(rs.map((r) => r.stopMedianMs)),
    },
  ]),
);
const g = summary[gantry.name];
const c = summary[containerd.name];
const f = (x, d = 1) => x.toFixed(d).padStart(9);
console.log(`pods ${PODS}, parallel ${PARALLEL}, rounds ${ROUNDS}, load ${load.before.map((x) => x.toFixed(1)).join(' ')}`);
console.log(`${''.padEnd(20)}${'start/s'.padStart(9)}${'ms/pod'.padStart(9)}${'stop/s'.padStart(9)}${'ms/pod'.padStart(9)}`);
for (const [name, s] of Object.entries(summary))
  console.log(`${name.padEnd(20)}${f(s.startPerS, 2)}${f(s.startMedianMs, 0)}${f(s.stopPerS, 2)}${f(s.stopMedianMs, 0)}`);
if (c)
  console.log(
    `${'ratio gantry/ctrd'.padEnd(20)}${f(g.startPerS / c.startPerS, 2)}${f(g.startMedianMs / c.startMedianMs, 2)}${f(g.stopPerS / c.stopPerS, 2)}${f(g.stopMedianMs / c.stopMedianMs, 2)}`,
  );
mkdirSync(join(repo, 'bench', 'results'), { recursive: true });
writeFileSync(
  join(repo, 'bench', 'results', 'cri-pods.json'),
  JSON.stringify({ date: new Date().toISOString(), pods: PODS, parallel: PARALLEL, rounds: ROUNDS, load, note, results, summary }, null, 2),
);
