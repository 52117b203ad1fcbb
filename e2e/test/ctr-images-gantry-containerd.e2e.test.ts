/**
 * The image path of gantry-containerd driven by Debian's real `ctr` alone: import a docker-archive
 * (content writes under a lease, image records, client-side unpack through Snapshots + Diff),
 * list, run containers on the image (`run --rm`, `run -d`), exec, look at snapshots and content,
 * remove the image and see garbage collection free what only it used.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { sleep } from '../src/containerd';
import { TestGantryContainerd } from '../src/gantry-containerd';
import { bundleTool } from '../src/paths';

const NS = 'imgs';
const IMAGE = 'docker.io/gantry/busybox:e2e';

describe('ctr images and run against gantry-containerd', () => {
  let gc: TestGantryContainerd | undefined;
  let seq = 0;
  const newId = (): string => `gci-${process.pid}-${++seq}`;
  const daemon = (): TestGantryContainerd => {
    if (!gc) throw new Error('gantry-containerd did not start');
    return gc;
  };
  const ok = (args: string[], timeoutMs = 60000): string => {
    const r = daemon().ctr(args, { timeoutMs });
    if (r.status !== 0) throw new Error(`ctr ${args.join(' ')}: exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}\nlog:\n${gc?.logTail(20)}`);
    return r.stdout;
  };
  const run = (args: string[]) => ok(['run', '--fifo-dir', daemon().fifoDir, ...args]);

  beforeAll(async () => {
    gc = new TestGantryContainerd(NS);
    const made = spawnSync(
      'bash',
      [bundleTool, join(gc.dir, 'bundle'), '--args', 'sh', '--docker-archive', join(gc.dir, 'busybox.tar'), '--name', 'gantry/busybox:e2e'],
      { encoding: 'utf8' },
    );
    if (made.status !== 0) throw new Error(`make-busybox-bundle: ${made.stderr}`);
    await gc.start();
  }, 60000);

  afterAll(async () => {
    await gc?.stop([NS]);
  }, 60000);

  test('images import unpacks the archive; images ls, content ls and snapshots ls show it', () => {
    const out = ok(['images', 'import', join(daemon().dir, 'busybox.tar')]);
    expect(out).toMatch(/unpacking docker\.io\/gantry\/busybox:e2e \(sha256:[0-9a-f]{64}\)\.\.\.done/);
    const images = ok(['images', 'ls']);
    expect(images).toContain(IMAGE);
    expect(images).toContain('linux/amd64');
    expect(ok(['images', 'check'])).toMatch(/complete/);
    const content = ok(['content', 'ls']);
    expect(content).toContain('containerd.io/gc.ref.content.config=');
    expect(content).toContain('containerd.io/gc.ref.snapshot.overlayfs=');
    expect(ok(['snapshots', 'ls'])).toMatch(/sha256:[0-9a-f]{64}\s+Committed/);
  });

  test('run --rm prints the output and removes the container and its snapshot', () => {
    const id = newId();
    expect(run(['--rm', IMAGE, id, 'sh', '-c', 'echo hi from $(cat /etc/hostname 2>/dev/null || echo image)'])).toMatch(/^hi from /);
    expect(run(['--rm', IMAGE, newId(), 'echo', 'hi'])).toBe('hi\n');
    expect(ok(['containers', 'ls', '-q'])).not.toContain(id);
    expect(ok(['snapshots', 'ls'])).not.toContain(id);
  });

  test("the exit status of the container is ctr run's", () => {
    const r = daemon().ctr(['run', '--rm', '--fifo-dir', daemon().fifoDir, IMAGE, newId(), 'sh', '-c', 'exit 6'], { timeoutMs: 60000 });
    expect(r.status).toBe(6);
  });

  test('run -d, tasks exec in it, writes land in its own snapshot, kill and clean up', async () => {
    const id = newId();
    run(['-d', IMAGE, id, 'sleep', '300']);
    expect(daemon().tasks().get(id)?.status).toBe('RUNNING');
    const ex = daemon().ctr(['tasks', 'exec', '--exec-id', 'e1', id, 'sh', '-c', 'echo data > /written; cat /written; ls /bin/busybox; exit 4'], {
      timeoutMs: 30000,
    });
    expect(ex.status).toBe(4);
    expect(ex.stdout).toBe('data\n/bin/busybox\n');
    const snaps = ok(['snapshots', 'ls']);
    expect(snaps).toMatch(new RegExp(`${id}\\s+sha256:[0-9a-f]{64}\\s+Active`));
    ok(['tasks', 'kill', '-s', 'SIGKILL', id]);
    const deadline = Date.now() + 10000;
    while (daemon().tasks().get(id)?.status !== 'STOPPED' && Date.now() < deadline) await sleep(50);
    ok(['tasks', 'delete', id]);
    ok(['containers', 'rm', id]); // ctr removes the container's snapshot with it
    expect(ok(['snapshots', 'ls'])).not.toContain(id);
  });

  test('images rm removes the image and garbage collection frees its content and snapshots', async () => {
    ok(['images', 'rm', '--sync', IMAGE]);
    expect(ok(['images', 'ls', '-q'])).not.toContain(IMAGE);
    const deadline = Date.now() + 5000;
    while (ok(['content', 'ls', '-q']).trim() !== '' && Date.now() < deadline) await sleep(100);
    expect(ok(['content', 'ls', '-q']).trim()).toBe('');
    expect(ok(['snapshots', 'ls']).trim().split('\n')).toHaveLength(1); // the header only
  });

  test('a bad archive is refused with a clear error and leaves no image', () => {
    const r = daemon().ctr(['images', 'import', join(daemon().dir, 'bundle', 'config.json')], { timeoutMs: 30000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr.length).toBeGreaterThan(0);
    expect(ok(['images', 'ls', '-q']).trim()).toBe('');
  });
});
