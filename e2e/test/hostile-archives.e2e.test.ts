/**
 * "Daemons under hostile input", end to end: each hostile layer (malformed PAX sizes, repeated
 * PAX records, a streamed 2 GiB gzip bomb, truncated gzip, escaping names, a hard link out of
 * the root) through the docker CLI's `import`, `load` (wrapped in a docker-archive), `cp`, and
 * `pull` (an image whose manifest references the layer, pushed over plain HTTP into a local
 * docker-registry) against gantryd: an error within 10 s, no image, blob, snapshot, ingest or
 * spool file left behind, the host untouched, and `docker run --rm busybox true` working right after
 * each layer's four refusals.
 */
import { spawn } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { type GantrydHarness, sharedGantryd } from '../src/gantryd';
import { collect, dockerArchive, file, END, hostileLayers, type HostileLayer } from '../src/hostile-archives';
import { LocalRegistry } from '@gantry/testkit';
import { pushSingleLayerImage } from '../src/registry-push';

interface Run {
  status: number | null;
  stderr: string;
  stdout: string;
  ms: number;
}

/**
 * docker with `input` streamed to its stdin (a CLI that stops reading early is fine), killed
 * (SIGKILL: `docker run` forwards SIGTERM to the container instead of exiting) after `limitMs`.
 */
function dockerWithInput(h: GantrydHarness, args: string[], input: AsyncIterable<Buffer>, limitMs = 120_000): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn('docker', args, { env: h.env(), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdin.on('error', () => undefined); // EPIPE once the CLI has its answer
    const guard = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(guard);
      resolve({ status, stdout, stderr, ms: Date.now() - started });
    });
    void (async () => {
      try {
        for await (const c of input) {
          if (child.stdin.destroyed || child.exitCode !== null) break;
          if (!child.stdin.write(c)) {
            await new Promise<void>((resolve) => {
              const done = () => {
                child.stdin.off('drain', done).off('close', done);
                resolve();
              };
              child.stdin.on('drain', done).on('close', done);
            });
          }
        }
      } catch {
        // the generator's own failure ends the input
      }
      child.stdin.end();
    })();
  });
}

function listing(dir: string): string[] {
  try {
    return fs.readdirSync(dir).sort();
  } catch {
    return [];
  }
}

describe('hostile archives through docker import, load, cp and pull', () => {
  let h: GantrydHarness;
  let reg: LocalRegistry;
  let baseline: ReturnType<typeof footprint>;
  const layers = hostileLayers();

  const footprint = () => ({
    images: h.ok(['images', '-a', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}']),
    blobs: listing(join(h.dir, 'data', 'containerd', 'content', 'blobs', 'sha256')),
    // rm-* are removed snapshots' directories being deleted in the background (a --rm container's, say)
    snapshots: listing(join(h.dir, 'data', 'containerd', 'snapshots', 'overlayfs', 'snapshots')).filter((n) => !n.startsWith('rm-')),
    ingests: listing(join(h.dir, 'data', 'containerd', 'content', 'ingest')),
  });

  beforeAll(async () => {
    h = await sharedGantryd();
    // a missing docker-registry fails the suite (tools/install-deps.sh installs it)
    reg = await LocalRegistry.start(join(h.dir, 'registry'));
    h.ok(['run', '-d', '--name', 'cpbox', 'busybox', 'sleep', '1000']);
    baseline = footprint();
    expect(baseline.blobs.length).toBeGreaterThan(0);
    expect(baseline.snapshots.length).toBeGreaterThan(0);
  }, 180000);

  afterAll(async () => {
    await reg?.stop();
    await h?.stop();
  }, 60000);

  async function* nothing(): AsyncGenerator<Buffer> {
    // no input
  }

  /**
   * After a refused archive: nothing new since `before` and the host untouched; with `runAfter`, the daemons still run
   * containers (checked once a layer, after its last verb: a run takes seconds on a loaded machine and 36 of them were
   * a third of the suite, while a dead or wedged daemon still fails the next case's `docker images` and 10 s bound).
   */
  async function expectClean(what: string, r: Run, before: ReturnType<typeof footprint>, runAfter: boolean): Promise<void> {
    if (r.status === 0) throw new Error(`${what} succeeded: ${r.stdout}\n${h.logTail()}`);
    expect(r.stderr.trim()).not.toBe('');
    expect(r.ms).toBeLessThan(10_000);
    expect(footprint()).toEqual(before);
    expect(footprint().images).toEqual(baseline.images);
    expect(footprint().ingests).toEqual([]);
    // no spool file; rootfs/ and build-mounts/ are where gantryd mounts a stopped container for cp and a build step's
    // rootfs (kept, and empty between uses, once a cp or a build ran on this shared gantryd)
    const kept = ['rootfs', 'build-mounts'];
    expect(listing(join(h.dir, 'data', 'tmp')).filter((n) => !kept.includes(n))).toEqual([]);
    for (const k of kept) expect(listing(join(h.dir, 'data', 'tmp', k))).toEqual([]);
    for (const p of ['/tmp/gantry-hostile-dotdot', '/tmp/gantry-hostile-abs', '/escape']) expect(fs.existsSync(p)).toBe(false);
    if (!runAfter) return;
    const run = await dockerWithInput(h, ['run', '--rm', 'busybox', 'true'], nothing(), 60_000);
    if (run.status !== 0) throw new Error(`docker run --rm busybox true after ${what}: exit ${run.status} after ${run.ms} ms: ${run.stderr}\n${h.logTail()}`);
  }

  const cases: [string, (l: HostileLayer) => Promise<Run>][] = [
    ['import', (l) => dockerWithInput(h, ['import', '-', 'hostile:import'], l.bytes())],
    [
      'load',
      async (l) =>
        dockerWithInput(
          h,
          ['load'],
          (async function* () {
            yield dockerArchive(await collect(l.bytes()), 'hostile:load');
          })(),
        ),
    ],
    ['cp', (l) => dockerWithInput(h, ['cp', '-', 'cpbox:/tmp'], l.bytes())],
    [
      'pull',
      async (l) => {
        // the push is setup, outside the bound: the 10 s is on the pull
        const repo = `hostile/pull-${layers.indexOf(l)}`;
        const blob = await pushSingleLayerImage(reg.host, repo, 'v1', () => l.bytes());
        const r = await dockerWithInput(h, ['pull', `${reg.host}/${repo}:v1`], nothing());
        // refused at the layer itself (manifest, config and blob all valid), not for some other reason
        if (r.status !== 0) expect(r.stderr).toContain(`failed to apply layer ${blob.digest}`);
        return r;
      },
    ],
  ];

  for (const layer of layers) {
    for (const [verb, run] of cases) {
      it(
        `docker ${verb}: ${layer.name} is refused and leaves nothing`,
        async () => {
          const before = footprint();
          const r = await run(layer);
          await expectClean(`docker ${verb} of ${layer.name}`, r, before, verb === cases[cases.length - 1]![0]);
          if (verb === 'cp') expect(h.docker(['exec', 'cpbox', 'ls', '/tmp'], undefined, 30000).stdout.trim()).toBe('');
        },
        verb === 'pull' ? 240000 : 120000,
      ); // pull: its setup inflates the 2 GiB bomb to hash its diff ID
    }
  }

  it('the pull door is sound: the same push of a benign layer (tar and tar+gzip) pulls', async () => {
    const tar = Buffer.concat([file('hello', 'benign'), END]);
    for (const [tag, bytes] of [
      ['tar', tar],
      ['gz', gzipSync(tar)],
    ] as const) {
      await pushSingleLayerImage(reg.host, 'benign/pull', tag, async function* () {
        yield bytes;
      });
      const r = await dockerWithInput(h, ['pull', `${reg.host}/benign/pull:${tag}`], nothing());
      if (r.status !== 0) throw new Error(`pull of a benign ${tag} layer: ${r.stderr}\n${h.logTail()}`);
      h.ok(['rmi', `${reg.host}/benign/pull:${tag}`]);
    }
  }, 120000);

  it('an absolute name without ".." is confined to the image (as dockerd does), not an error', async () => {
    const r = await dockerWithInput(
      h,
      ['import', '-', 'hostile:abs'],
      (async function* () {
        yield Buffer.concat([file('/etc/gantry-abs-confined', 'inside'), END]);
      })(),
    );
    expect(r.status).toBe(0);
    // the image has no shell: read the file back through `docker cp` of a created container
    h.ok(['create', '--name', 'absbox', 'hostile:abs', 'x']);
    const got = await dockerWithInput(h, ['cp', 'absbox:/etc/gantry-abs-confined', '-'], nothing(), 60_000);
    expect(got.status).toBe(0);
    expect(got.stdout).toContain('inside');
    expect(fs.existsSync('/etc/gantry-abs-confined')).toBe(false);
    h.ok(['rm', 'absbox']);
    h.ok(['rmi', 'hostile:abs']);
  }, 120000);
});
