#!/usr/bin/env node
// Benchmark: `DOCKER_BUILDKIT=0 docker build` (the classic builder, POST /build) of a small
// multi-stage project against gantryd, beside the same builds against a private Debian dockerd
// (when installed), interleaved round by round so both see the same machine state:
//   cold     no cache: the previous build's images removed, then `build --no-cache`
//   warm     the same build again: every step from the cache
//   changed  one copied source file changed: the steps from its COPY on run again
//
//   node bench/build.mjs [--runs N] [--cases cold,warm,changed] [--no-dockerd] [--out FILE]
//
// The project is made offline: stage 1 FROM busybox (tools/make-busybox-bundle.sh, as the other
// benches) "compiles" a few source files with RUN steps after ARG/ENV/WORKDIR/COPY; stage 2 FROM
// busybox copies the result and sets CMD/ENV/USER/EXPOSE/LABEL. Every build is checked: it must
// succeed, and the output must say "Using cache" exactly for the steps that should be cached (a
// timing of a failed or uncached build would be worthless). RUN steps use --network none on both
// (the private dockerd runs with --bridge=none). Needs root and `npm run build`.
// Writes bench/results/build.json and prints medians and gantryd/dockerd ratios (below 1: gantryd faster).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadHarness } from './harness.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const USAGE = 'usage: node bench/build.mjs [--runs N] [--cases cold,warm,changed] [--no-dockerd] [--out FILE]';
const CASES = ['cold', 'warm', 'changed'];
const TAG = 'bench/build-app:latest';

function parseArgs(argv) {
  const o = { runs: 5, cases: new Set(CASES), dockerd: true, out: join(repo, 'bench', 'results', 'build.json') };
  const bad = (msg) => {
    console.error(`bench/build.mjs: ${msg} (--help for usage)`);
    process.exit(2);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--runs') {
      const v = argv[++i];
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) bad(`--runs needs an integer >= 1, got '${v ?? ''}'`);
      o.runs = n;
    } else if (a === '--cases') {
      const v = argv[++i];
      const names = (v ?? '').split(',').filter(Boolean);
      if (names.length === 0 || names.some((n) => !CASES.includes(n))) bad(`--cases needs a list of ${CASES.join(', ')}, got '${v ?? ''}'`);
      o.cases = new Set(names);
    } else if (a === '--no-dockerd') o.dockerd = false;
    else if (a === '--out') {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) bad('--out needs a file name');
      o.out = resolve(v);
    } else if (a === '-h' || a === '--help') {
      console.log(USAGE);
      process.exit(0);
    } else bad(`unknown argument '${a}'`);
  }
  return o;
}

const DOCKERFILE = `FROM busybox AS build
ARG VERSION=1.0
ENV CFLAGS=-O2
WORKDIR /src
COPY src/ ./
RUN mkdir -p /out/obj && for f in *.c; do sed -e "s/@VERSION@/$VERSION/" -e "s/@CFLAGS@/$CFLAGS/" "$f" > "/out/obj/\${f%.c}.o"; done
RUN { echo '#!/bin/sh'; cat /out/obj/*.o; } > /out/app && chmod 755 /out/app
RUN echo "$VERSION" > /out/VERSION && ls -l /out > /out/MANIFEST

FROM busybox
ENV APP_HOME=/app
WORKDIR /app
COPY --from=build /out/app /out/VERSION /out/MANIFEST ./
LABEL org.example.bench=build org.example.stage=final
EXPOSE 8080/tcp
USER 1000:1000
CMD ["/app/app"]
`;
/** The instruction whose COPY the "changed" case invalidates, and what is before it in stage 1. */
const CHANGED_COPY = 'COPY src/ ./';

const sources = (rev) => ({
  'main.c': `echo "app @VERSION@ (@CFLAGS@)"\n`,
  'util.c': `echo "util rev ${rev}"\n`,
  'net.c': `echo "net: none"\n`,
  'README.md': 'not copied into the image by any step\n',
});

function writeProject(dir, rev) {
  mkdirSync(join(dir, 'src'), { recursive: true });
  writeFileSync(join(dir, 'Dockerfile'), DOCKERFILE);
  writeFileSync(join(dir, '.dockerignore'), 'README.md\n');
  for (const [name, text] of Object.entries(sources(rev))) writeFileSync(join(dir, name === 'README.md' ? name : join('src', name)), text);
}

/** Run the docker CLI; resolves with stdout and stderr together (rejects on failure). */
function docker(env, args) {
  return new Promise((res, rej) => {
    const c = spawn('docker', args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (out += d));
    c.on('error', rej);
    c.on('exit', (code) => (code === 0 ? res(out) : rej(new Error(`docker ${args.join(' ')}: exit ${code}:\n${out.trim()}`))));
  });
}

/** The steps of a classic build's output, each with whether it said "Using cache". */
const stepsOf = (out) =>
  out
    .split(/^Step \d+\/\d+ : /m)
    .slice(1)
    .map((s) => ({ instruction: s.split('\n')[0], cached: s.includes(' ---> Using cache') }));

/**
 * Throw unless the build's output is what the case must show: `Successfully built`/`tagged`, and
 * "Using cache" for no step (cold), every step but FROM (warm), or the stage-1 steps before the
 * changed COPY and none from it to the end of stage 1 (changed).
 */
function check(name, kind, out) {
  const fail = (why) => {
    throw new Error(`${name}, ${kind} build: ${why}:\n${out}`);
  };
  if (!/^Successfully built [0-9a-f]{12}$/m.test(out) || !out.includes(`Successfully tagged ${TAG}`)) fail('no "Successfully built/tagged"');
  const steps = stepsOf(out);
  if (steps.length !== DOCKERFILE.split('\n').filter((l) => /^[A-Z]/.test(l)).length) fail(`${steps.length} steps`);
  const work = steps.filter((s) => !s.instruction.startsWith('FROM'));
  if (kind === 'cold' && work.some((s) => s.cached)) fail('a step came from the cache');
  if (kind === 'warm' && work.some((s) => !s.cached)) fail(`not from the cache: ${work.filter((s) => !s.cached).map((s) => s.instruction)}`);
  if (kind === 'changed') {
    const stage1 = steps.slice(
      1,
      steps.findIndex((s, i) => i > 0 && s.instruction.startsWith('FROM')),
    );
    const at = stage1.findIndex((s) => s.instruction === CHANGED_COPY);
    if (at < 0) fail(`no step '${CHANGED_COPY}'`);
    if (stage1.slice(0, at).some((s) => !s.cached)) fail(`a step before '${CHANGED_COPY}' ran again`);
    if (stage1.slice(at).some((s) => s.cached)) fail(`a step from '${CHANGED_COPY}' on came from the cache`);
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const round1 = (x) => Math.round(x * 10) / 10;
const ratio = (g, d) => (d === undefined || d === 0 ? null : Number((g / d).toFixed(2)));

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error('run as root');
  const loadStart = loadavg();
  const tmp = mkdtempSync('/tmp/buildbench-');
  const cleanup = [() => rmSync(tmp, { recursive: true, force: true })];
  let cleaning;
  const cleanUp = () =>
    (cleaning ??= (async () => {
      while (cleanup.length) await Promise.resolve(cleanup.pop()()).catch((e) => console.error(`cleanup: ${e.message}`));
    })());
  // what starts after the clean-up began (a signal arrived mid-step) is stopped at once
  const defer = (fn) => (cleaning ? Promise.resolve(fn()).catch(() => undefined) : cleanup.push(fn));
  const onSignal = (sig) => {
    console.error(`${sig}: stopping what the bench started`);
    cleanUp().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const targets = [];
  const samples = {};
  try {
    const { GantrydHarness } = loadHarness(tmp, 'gantryd');
    const g = await GantrydHarness.start('buildbench-g-');
    defer(() => g.stop());
    targets.push({ name: 'gantryd', env: { ...g.env(), DOCKER_BUILDKIT: '0' } });
    const archive = g.makeBusyboxArchive();
    if (opts.dockerd) {
      try {
        const { TestDockerd } = loadHarness(tmp, 'dockerd');
        const d = new TestDockerd('/usr/sbin/runc');
        defer(() => d.stop());
        await d.start();
        targets.push({ name: 'dockerd', env: { ...d.env, DOCKER_BUILDKIT: '0' } });
      } catch (e) {
        console.error(`dockerd skipped: ${e.message.split('\n')[0]}`);
      }
    }
    const ctx = join(tmp, 'ctx');
    let rev = 0;
    writeProject(ctx, rev);
    for (const t of targets) {
      await docker(t.env, ['load', '-i', archive]);
      t.baseImages = (await docker(t.env, ['images', '-aq'])).trim();
      samples[t.name] = Object.fromEntries([...opts.cases].map((c) => [c, []]));
      // a first build, not timed: the cache the first warm (or changed) round starts from
      check(t.name, 'cold', await docker(t.env, ['build', '--network', 'none', '-t', TAG, ctx]));
    }

    const build = async (t, kind, args) => {
      const start = process.hrtime.bigint();
      const out = await docker(t.env, ['build', '--network', 'none', ...args, '-t', TAG, ctx]);
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      check(t.name, kind, out);
      samples[t.name][kind].push(ms);
    };
    /** Back to the images there were before any build: the tagged image and stage 1's untagged one. */
    const removeBuilt = async (t) => {
      await docker(t.env, ['rmi', TAG]);
      await docker(t.env, ['image', 'prune', '-f']);
      const left = (await docker(t.env, ['images', '-aq'])).trim();
      if (left !== t.baseImages) throw new Error(`${t.name}: images left after rmi and prune:\n${left}`);
    };

    console.log(`timing ${[...opts.cases].join(', ')} builds, ${opts.runs} runs on ${targets.map((t) => t.name).join(' and ')} ...`);
    for (let i = 0; i < opts.runs; i++) {
      if (opts.cases.has('cold'))
        for (const t of targets) {
          await removeBuilt(t);
          await build(t, 'cold', ['--no-cache']);
        }
      if (opts.cases.has('warm')) for (const t of targets) await build(t, 'warm', []);
      if (opts.cases.has('changed')) {
        writeProject(ctx, ++rev);
        for (const t of targets) await build(t, 'changed', []);
      }
      console.log(`  round ${i + 1}/${opts.runs} done`);
    }
    // the image built runs as it should (on each daemon), so what was timed made a working image
    // (the shell glob *.o concatenates in name order)
    for (const t of targets) {
      const out = await docker(t.env, ['run', '--rm', '--network', 'none', TAG]);
      if (out !== `app 1.0 (-O2)\nnet: none\nutil rev ${rev}\n`) throw new Error(`${t.name}: the built image printed ${JSON.stringify(out)}`);
    }
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await cleanUp();
  }

  const rows = [...opts.cases].map((c) => {
    const gm = median(samples.gantryd[c]);
    const dm = samples.dockerd ? median(samples.dockerd[c]) : undefined;
    return { case: c, gantryd_ms: Math.round(gm), dockerd_ms: dm === undefined ? null : Math.round(dm), ratio: ratio(gm, dm) };
  });
  const loadEnd = loadavg();
  console.log(
    `classic builder (DOCKER_BUILDKIT=0), ${opts.runs} runs each (median ms; ratio = gantryd/dockerd); load average ${loadStart.map(round1).join(' ')} at start, ${loadEnd.map(round1).join(' ')} at end`,
  );
  console.table(rows);
  const out = {
    date: new Date().toISOString(),
    kernel: release(),
    cpus: cpus().length,
    loadavg: loadStart.map(round1),
    loadavgEnd: loadEnd.map(round1),
    runs: opts.runs,
    dockerfile: DOCKERFILE,
    rows,
    samples,
  };
  mkdirSync(dirname(opts.out), { recursive: true });
  writeFileSync(opts.out, JSON.stringify(out, null, 2) + '\n');
  console.log(`wrote ${opts.out}`);
}

main().catch((e) => {
  console.error(e.stack ?? String(e));
  process.exit(1);
});
