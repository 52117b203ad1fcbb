#!/usr/bin/env node
// Benchmark: network set-up time per container in gantryd. Wall-clock time of
// `docker run --rm busybox true` with --network none, the default bridge and a user-defined
// bridge, runs interleaved so all see the same machine state; the difference to `none` is what
// networking costs a container (netns, CNI ADD of bridge/host-local/portmap, CNI DEL, teardown).
//
//   node bench/network-setup.mjs [--runs N] [--warmup N] [--out FILE]
//
// Starts its own gantryd (bin/gantryd; build first) on a temp socket, data root and exec root,
// and, when Debian's dockerd is installed (and not --no-dockerd), a private dockerd inside a network
// namespace of its own (nsenter --net: `ip netns exec` would remount /sys and hide the cgroups; so its docker0 and iptables rules never touch the host) for the same runs
// side by side. Removes everything it made. Writes bench/results/network-setup.json (or --out).
// Needs root.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmdirSync, statSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const opts = { runs: 15, warmup: 2, dockerd: true, out: join(repo, 'bench', 'results', 'network-setup.json') };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const [flag, inline] = argv[i].includes('=') ? argv[i].split(/=(.*)/s, 2) : [argv[i], undefined];
  const value = () => inline ?? argv[++i];
  if (flag === '--runs' || flag === '-n') opts.runs = Number(value());
  else if (flag === '--warmup') opts.warmup = Number(value());
  else if (flag === '--out') opts.out = resolve(value());
  else if (flag === '--no-dockerd') opts.dockerd = false;
  else {
    console.error('usage: node bench/network-setup.mjs [--runs N] [--warmup N] [--no-dockerd] [--out FILE]');
    process.exit(flag === '-h' || flag === '--help' ? 0 : 2);
  }
}

const dir = mkdtempSync('/tmp/gnb-');
const sock = join(dir, 'g.sock');
const env = { ...process.env, DOCKER_HOST: `unix://${sock}`, DOCKER_CONFIG: join(dir, 'cfg'), DOCKER_CLI_HINTS: 'false' };
const denv = { ...env, DOCKER_HOST: `unix://${join(dir, 'd.sock')}` };
const docker = (args, e = env) => spawnSync('docker', args, { encoding: 'utf8', env: e, timeout: 120000 });
const must = (args, e = env) => {
  const r = docker(args, e);
  if (r.status !== 0) throw new Error(`docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
const dockerdBin = ['/usr/sbin/dockerd', '/usr/bin/dockerd'].find((p) => existsSync(p));
const netns = `gnb-${process.pid}`;
// dockerd creates these whatever its flags say; remove the ones that were not there before
const FIXED = ['/run/docker/plugins', '/run/docker', '/etc/docker/key.json', '/etc/docker'];
const existed = new Map(FIXED.map((p) => [p, existsSync(p)]));
let dockerd;

const log = openSync(join(dir, 'gantryd.log'), 'a');
const daemon = spawn(join(repo, 'bin', 'gantryd'), ['-H', `unix://${sock}`, '--data-root', join(dir, 'data'), '--exec-root', join(dir, 'run')], {
  stdio: ['ignore', log, log],
});
const net = `bench-${process.pid}`;
let code = 0;
try {
  const deadline = Date.now() + 30000;
  while (docker(['version']).status !== 0) {
    if (Date.now() > deadline || daemon.exitCode !== null) throw new Error(`gantryd did not start: ${readFileSync(join(dir, 'gantryd.log'), 'utf8')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const made = spawnSync(
    'bash',
    [join(repo, 'tools', 'make-busybox-bundle.sh'), join(dir, 'b'), '--args', 'sh', '--docker-archive', join(dir, 'bb.tar'), '--name', 'busybox:latest'],
    { encoding: 'utf8' },
  );
  if (made.status !== 0) throw new Error(made.stderr);
  must(['load', '-i', join(dir, 'bb.tar')]);
  must(['network', 'create', '--subnet', `10.${100 + Math.floor(Math.random() * 150)}.${Math.floor(Math.random() * 256)}.0/24`, net]);
  const targets = [['gantryd', env]];
  if (opts.dockerd && dockerdBin) {
    spawnSync('ip', ['netns', 'add', netns]);
    spawnSync('ip', ['netns', 'exec', netns, 'ip', 'link', 'set', 'lo', 'up']);
    writeFileSync(join(dir, 'daemon.json'), '{}\n');
    const dlog = openSync(join(dir, 'dockerd.log'), 'a');
    dockerd = spawn(
      'nsenter',
      [
        `--net=/run/netns/${netns}`,
        dockerdBin,
        '--config-file',
        join(dir, 'daemon.json'),
        '--data-root',
        join(dir, 'dd'),
        '--exec-root',
        join(dir, 'dx'),
        '-H',
        `unix://${join(dir, 'd.sock')}`,
        '--pidfile',
        join(dir, 'd.pid'),
        '--containerd-namespace',
        netns,
        '--containerd-plugins-namespace',
        `${netns}-p`,
        '--storage-driver',
        'overlay2',
        '--cgroup-parent',
        `/${netns}`,
      ],
      { stdio: ['ignore', dlog, dlog] },
    );
    const dl = Date.now() + 60000;
    while (docker(['version'], denv).status !== 0) {
      if (Date.now() > dl || dockerd.exitCode !== null)
        throw new Error(`dockerd did not start: ${readFileSync(join(dir, 'dockerd.log'), 'utf8').slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    must(['load', '-i', join(dir, 'bb.tar')], denv);
    must(['network', 'create', '--subnet', '10.99.0.0/24', net], denv);
    targets.push(['dockerd', denv]);
  } else if (opts.dockerd) console.error('dockerd not installed: gantryd only');

  const modes = { none: 'none', 'default bridge': 'bridge', 'user bridge': net };
  const times = {};
  for (const [t] of targets) for (const k of Object.keys(modes)) times[`${t} ${k}`] = [];
  for (let i = 0; i < opts.warmup + opts.runs; i++) {
    for (const [t, e] of targets) {
      for (const [label, mode] of Object.entries(modes)) {
        const t0 = process.hrtime.bigint();
        must(['run', '--rm', '--network', mode, 'busybox', 'true'], e);
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        if (i >= opts.warmup) times[`${t} ${label}`].push(ms);
      }
    }
  }
  const stats = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return { median: s[Math.floor(s.length / 2)], mean: s.reduce((a, b) => a + b, 0) / s.length, min: s[0], max: s[s.length - 1] };
  };
  const results = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, stats(v)]));
  console.log(`docker run --rm busybox true, ${opts.runs} runs (ms)`);
  console.log('daemon  mode              median    mean     min     max   network cost (median - none)');
  for (const [k, s] of Object.entries(results)) {
    const base = results[`${k.split(' ')[0]} none`].median;
    console.log(
      `${k.replace(' ', '  ').padEnd(25)} ${s.median.toFixed(1).padStart(7)} ${s.mean.toFixed(1).padStart(7)} ${s.min.toFixed(1).padStart(7)} ${s.max.toFixed(1).padStart(7)}   ${(s.median - base).toFixed(1)}`,
    );
  }
  if (results['dockerd none']) {
    const cost = (t) => results[`${t} user bridge`].median - results[`${t} none`].median;
    console.log(
      `network set-up per container (user bridge - none): gantryd ${cost('gantryd').toFixed(1)} ms, dockerd ${cost('dockerd').toFixed(1)} ms, ratio ${(cost('gantryd') / cost('dockerd')).toFixed(2)}`,
    );
  }
  mkdirSync(dirname(opts.out), { recursive: true });
  writeFileSync(opts.out, JSON.stringify({ date: new Date().toISOString(), kernel: release(), cpus: cpus().length, runs: opts.runs, results }, null, 2));
} catch (e) {
  console.error(String(e instanceof Error ? e.message : e));
  code = 1;
} finally {
  docker(['network', 'rm', net]);
  if (dockerd) {
    for (const id of docker(['ps', '-aq'], denv).stdout.split('\n').filter(Boolean)) docker(['rm', '-f', id], denv);
    if (dockerd.exitCode === null) {
      dockerd.kill('SIGTERM');
      await new Promise((r) => dockerd.once('exit', r));
    }
  }
  if (daemon.exitCode === null) {
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.once('exit', r));
  }
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir)) process.kill(Number(pid), 'SIGKILL');
    } catch {
      // gone
    }
  }
  spawnSync('sh', ['-c', `grep -o " ${dir}[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l`]);
  if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  if (dockerd) {
    spawnSync('ip', ['netns', 'del', netns]);
    spawnSync('sh', ['-c', `for d in /sys/fs/cgroup/*/${netns} /sys/fs/cgroup/${netns}; do [ -d "$d" ] && rmdir "$d"; done; true`]);
    for (const p of FIXED) {
      if (existed.get(p) || !existsSync(p)) continue;
      try {
        if (statSync(p).isDirectory()) rmdirSync(p);
        else rmSync(p);
      } catch {
        // a non-empty directory: leave it
      }
    }
  }
}
process.exit(code);
