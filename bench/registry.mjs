#!/usr/bin/env node
// Benchmark: push and pull of a multi-layer image (default 4 layers x 40 MB of random bytes, so
// ≥128 MB that does not compress) against a local docker-registry, @gantry/registry (the built
// dist, into/out of a gantry-containerd started here) beside `skopeo copy` for the same image.
//
//   node bench/registry.mjs [--runs N] [--layers N] [--layer-mb N] [--keep]
//
// Gantry's pull includes unpacking into overlayfs snapshots; skopeo's pull writes an OCI layout
// (no unpack) — the comparison shows what the transfer costs and what unpack adds. Needs root,
// `npm run build`, /usr/bin/docker-registry and skopeo. Not part of the test suite.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { createRequire } from 'node:module';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeLayeredArchive } from './layered-image.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const opts = { runs: 3, layers: 4, layerMb: 40, keep: false };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === '--runs') opts.runs = Number(process.argv[++i]);
  else if (a === '--layers') opts.layers = Number(process.argv[++i]);
  else if (a === '--layer-mb') opts.layerMb = Number(process.argv[++i]);
  else if (a === '--keep') opts.keep = true;
  else {
    console.error('usage: node bench/registry.mjs [--runs N] [--layers N] [--layer-mb N] [--keep]');
    process.exit(2);
  }
}

const { RegistryClient, ContainerdStore } = require(join(repo, 'packages/registry/dist/index.js'));
const { content, images, leases, snapshots, diff, archives, namespaceMetadata } = require(join(repo, 'packages/api/dist/index.js'));
const { credentials } = require(join(repo, 'node_modules/@grpc/grpc-js'));

const sh = (cmd, args) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
const freePort = () =>
  new Promise((ok) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => ok(p));
    });
  });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const dir = fs.mkdtempSync('/tmp/gbreg-');
const procs = [];
try {
  // --- the image: random layers packed by GNU tar, as a docker-archive ---
  console.log(`generating ${opts.layers} layers of ${opts.layerMb} MB ...`);
  const archive = makeLayeredArchive(dir, { layers: opts.layers, layerMb: opts.layerMb, name: 'bench/big:v1' });

  // --- daemons ---
  // a fresh registry (own port and storage) per run: nothing to mount or skip from an earlier run
  const startRegistry = async (run) => {
    const port = await freePort();
    fs.writeFileSync(
      join(dir, `reg${run}.yml`),
      `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, `regdata${run}`)}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n`,
    );
    const proc = spawn('/usr/bin/docker-registry', ['serve', join(dir, `reg${run}.yml`)], { stdio: 'ignore' });
    procs.push(proc);
    for (
      let i = 0;
      i < 400 && !(await new Promise((ok) => http.get(`http://127.0.0.1:${port}/v2/`, (r) => (r.resume(), ok(true))).on('error', () => ok(false))));
      i++
    )
      await sleep(50);
    return { host: `127.0.0.1:${port}`, stop: () => proc.kill('SIGTERM'), data: join(dir, `regdata${run}`) };
  };
  const sock = join(dir, 'c.sock');
  procs.push(
    spawn(
      process.execPath,
      [join(repo, 'packages/containerd/dist/main.js'), '--address', sock, '--root', join(dir, 'root'), '--state', join(dir, 'state'), '--log-level', 'error'],
      { stdio: 'ignore' },
    ),
  );
  for (let i = 0; i < 400 && !fs.existsSync(sock); i++) await sleep(50);
  const addr = `unix://${sock}`;
  const c = credentials.createInsecure();
  const big = { 'grpc.max_receive_message_length': 64 << 20, 'grpc.max_send_message_length': 64 << 20 };
  const clients = {
    content: new content.ContentClient(addr, c, big),
    images: new images.ImagesClient(addr, c),
    leases: new leases.LeasesClient(addr, c),
    snapshots: new snapshots.SnapshotsClient(addr, c),
    diff: new diff.DiffClient(addr, c),
  };
  const arc = new archives.ArchivesClient(addr, c, big);
  const data = fs.readFileSync(archive);
  const loaded = await new Promise((ok, ko) => {
    const call = arc.import(namespaceMetadata('bench'), (e, r) => (e ? ko(e) : ok(r)));
    for (let i = 0; i < data.length; i += 1 << 20)
      call.write(
        i === 0 ? { unpack: false, data: data.subarray(i, i + (1 << 20)), name: '', snapshotter: '', platform: '' } : { data: data.subarray(i, i + (1 << 20)) },
      );
    call.end();
  });
  const t = loaded.images[0].target;
  const src = new ContainerdStore(clients, 'bench');
  const total = opts.layers * opts.layerMb;
  console.log(`image: ${opts.layers} layers, ${total} MB, manifest ${t.digest}`);

  const rows = { gantryPush: [], skopeoPush: [], gantryPull: [], skopeoPull: [] };
  for (let run = 0; run < opts.runs; run++) {
    const reg = await startRegistry(run);
    const host = reg.host;
    const gname = `${host}/bench/gantry${run}:v1`;
    await src.putImage(gname, { mediaType: t.mediaType, digest: t.digest, size: Number(t.size) });
    const client = new RegistryClient();
    let t0 = performance.now();
    await client.push(src, gname);
    rows.gantryPush.push(performance.now() - t0);

    t0 = performance.now();
    sh('skopeo', ['copy', '-q', '--dest-tls-verify=false', `docker-archive:${archive}`, `docker://${host}/bench/skopeo${run}:v1`]);
    rows.skopeoPush.push(performance.now() - t0);

    t0 = performance.now();
    const marks = [];
    await client.pull(new ContainerdStore(clients, `pull${run}`), gname, {
      progress: (msg) => {
        if (msg.status === 'Download complete' || msg.status === 'Pull complete') marks.push(`${msg.status} ${(performance.now() - t0).toFixed(0)}`);
      },
    });
    if (process.env.BENCH_VERBOSE) console.log(marks.join('; '));
    rows.gantryPull.push(performance.now() - t0);
    client.close();

    const oci = join(dir, `oci${run}`);
    t0 = performance.now();
    sh('skopeo', ['copy', '-q', '--src-tls-verify=false', `docker://${gname}`, `oci:${oci}:v1`]);
    rows.skopeoPull.push(performance.now() - t0);
    fs.rmSync(oci, { recursive: true, force: true });
    reg.stop();
    fs.rmSync(reg.data, { recursive: true, force: true });
    console.log(
      `run ${run + 1}: push gantry ${rows.gantryPush[run].toFixed(0)} ms, skopeo ${rows.skopeoPush[run].toFixed(0)} ms; pull gantry ${rows.gantryPull[run].toFixed(0)} ms (with unpack), skopeo ${rows.skopeoPull[run].toFixed(0)} ms`,
    );
  }
  const m = Object.fromEntries(Object.entries(rows).map(([k, v]) => [k, median(v)]));
  console.log('\nmedian of', opts.runs, 'runs');
  console.log(
    `push: gantry ${m.gantryPush.toFixed(0)} ms (${(total / (m.gantryPush / 1000)).toFixed(0)} MB/s), skopeo ${m.skopeoPush.toFixed(0)} ms, ratio gantry/skopeo ${(m.gantryPush / m.skopeoPush).toFixed(2)}`,
  );
  console.log(
    `pull: gantry ${m.gantryPull.toFixed(0)} ms (${(total / (m.gantryPull / 1000)).toFixed(0)} MB/s, incl. unpack), skopeo ${m.skopeoPull.toFixed(0)} ms, ratio gantry/skopeo ${(m.gantryPull / m.skopeoPull).toFixed(2)}`,
  );
  for (const cl of [...Object.values(clients), arc]) cl.close();
} finally {
  for (const p of procs) if (p.exitCode === null) p.kill('SIGTERM');
  await sleep(500);
  spawnSync('sh', ['-c', `grep -o " ${dir}[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l`]);
  if (!opts.keep) fs.rmSync(dir, { recursive: true, force: true });
}
