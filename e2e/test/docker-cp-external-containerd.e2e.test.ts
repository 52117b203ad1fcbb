/**
 * docker cp / diff on a running container when gantryd talks to a gantry-containerd it did not
 * start (--containerd, as the systemd units run them): the same view of the container's root as
 * with its own containerd, the live rootfs the shim mounted, not the process's /proc/<pid>/root
 * (which would put a copied file into the container's tmpfs instead of its filesystem).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { describeIf, needRoot, waitFor } from '@gantry/testkit';
import { GantrydHarness } from '../src/gantryd';

const CONTAINERD = join(__dirname, '..', '..', 'bin', 'gantry-containerd');

describeIf(needRoot())('docker cp with gantryd --containerd', () => {
  let h: GantrydHarness | undefined;
  let containerd: ChildProcess | undefined;
  let dir: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync('/tmp/gcx-');
    const sock = join(dir, 'cd', 'containerd.sock');
    const out = fs.openSync(join(dir, 'containerd.log'), 'a');
    containerd = spawn(CONTAINERD, ['--address', sock, '--root', join(dir, 'root'), '--state', join(dir, 'cd')], { stdio: ['ignore', out, out] });
    fs.closeSync(out);
    await waitFor('gantry-containerd to listen', () => fs.existsSync(sock));
    h = await GantrydHarness.start('gcxd-', [`--containerd=${sock}`]);
    h.loadBusybox();
  }, 120000);

  afterAll(async () => {
    await h?.stop();
    if (containerd?.exitCode === null) {
      const exited = new Promise((r) => containerd!.once('exit', r));
      containerd.kill('SIGTERM');
      await exited;
    }
    unmountUnder(dir);
    fs.rmSync(dir, { recursive: true, force: true });
  }, 60000);

  it('copies into and out of a running container through its rootfs, and diff lists it', () => {
    const g = h!;
    g.ok(['run', '-d', '--name', 'cpx', '--tmpfs', '/data', 'busybox', 'sleep', '300']);
    const src = join(dir, 'f');
    fs.writeFileSync(src, 'hi\n');
    g.ok(['cp', src, 'cpx:/data/f']);
    // below the tmpfs, as dockerd and gantryd with its own containerd put it: the process does not see it
    expect(g.ok(['exec', 'cpx', 'ls', '/data'])).toBe('');
    expect(g.ok(['diff', 'cpx']).split('\n').filter(Boolean)).toEqual(['A /data', 'A /data/f']);
    const back = g.docker(['cp', 'cpx:/data/f', join(dir, 'back')]);
    expect(back.status).toBe(0);
    expect(fs.readFileSync(join(dir, 'back'), 'utf8')).toBe('hi\n');
  });
});

/** Shims' rootfs mounts under the containerd state, should a container outlive the test. */
function unmountUnder(dir: string): void {
  for (const m of fs.readFileSync('/proc/self/mounts', 'utf8').split('\n')) {
    const p = m.split(' ')[1];
    if (p?.startsWith(dir)) spawnSync('umount', ['-l', p], { stdio: 'ignore' });
  }
}
