/**
 * Debian's real containerd client (`ctr snapshots …`, containerd 1.6) against the snapshots
 * service: the mount commands ctr prints are run for real, and its ls/info/label/usage/tree/rm
 * output reads as containerd's would.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { waitFor } from './helpers';
import { describeIfTool } from './services-harness';
import { Mounts, mountedUnder, startSnapshotsServer, type SnapshotsServer } from './snapshots-harness';

const run = promisify(execFile);

describeIfTool('ctr', 'containerd')('ctr snapshots against gantry-containerd', () => {
  let s: SnapshotsServer;
  let mounts: Mounts;
  beforeAll(async () => {
    s = await startSnapshotsServer();
    mounts = new Mounts(s.dir);
  });
  afterEach(() => mounts.cleanup());
  afterAll(async () => {
    mounts.cleanup();
    const left = mountedUnder(s.dir);
    await s.close();
    expect(left).toEqual([]);
  });

  const ctr = async (...args: string[]): Promise<string> => {
    const { stdout } = await run('ctr', ['--address', s.sock, '--timeout', '10s', '-n', 'ns', ...args], { timeout: 20000 });
    return stdout;
  };
  const rows = (out: string) =>
    out
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/));
  /** Run the mount(8) command `ctr snapshots mounts` prints, on a fresh target; returns the target. */
  const mountWithCtr = async (key: string, name: string): Promise<string> => {
    const target = path.join(s.dir, name);
    fs.mkdirSync(target, { recursive: true });
    const cmd = (await ctr('snapshots', 'mounts', target, key)).trim();
    expect(cmd).toMatch(new RegExp(`^mount -t (bind|overlay) \\S+ ${target} -o \\S+$`));
    await run('sh', ['-c', cmd]);
    mounts.track(target);
    return target;
  };

  test('prepare, mounts, commit, layered prepare, view, ls, tree', async () => {
    await ctr('snapshots', 'prepare', 'k1');
    expect(rows(await ctr('snapshots', 'ls'))).toEqual([
      ['KEY', 'PARENT', 'KIND'],
      ['k1', 'Active'],
    ]);
    expect(await ctr('snapshots', 'mounts', '/mnt/x', 'k1')).toMatch(/^mount -t bind \S+\/snapshots\/overlayfs\/snapshots\/1\/fs \/mnt\/x -o rw,rbind\n$/);
    const t1 = await mountWithCtr('k1', 't1');
    fs.writeFileSync(path.join(t1, 'base.txt'), 'base\n');
    mounts.unmount(t1);
    await ctr('snapshots', 'commit', 'c1', 'k1');

    await ctr('snapshots', 'prepare', 'k2', 'c1');
    expect(await ctr('snapshots', 'mounts', '/mnt/x', 'k2')).toMatch(
      /^mount -t overlay overlay \/mnt\/x -o (index=off,)?workdir=\S+\/2\/work,upperdir=\S+\/2\/fs,lowerdir=\S+\/1\/fs\n$/,
    );
    const t2 = await mountWithCtr('k2', 't2');
    expect(fs.readFileSync(path.join(t2, 'base.txt'), 'utf8')).toBe('base\n');
    fs.writeFileSync(path.join(t2, 'top.txt'), 'top\n');
    mounts.unmount(t2);
    await ctr('snapshots', 'view', 'v1', 'c1');
    expect(await ctr('snapshots', 'mounts', '/mnt/x', 'v1')).toMatch(/^mount -t bind \S+\/1\/fs \/mnt\/x -o ro,rbind\n$/);

    expect(rows(await ctr('snapshots', 'ls'))).toEqual([
      ['KEY', 'PARENT', 'KIND'],
      ['c1', 'Committed'],
      ['k2', 'c1', 'Active'],
      ['v1', 'c1', 'View'],
    ]);
    expect(rows(await ctr('snapshots', 'tree'))).toEqual([['c1'], ['\\_', 'k2'], ['\\_', 'v1']]);
  });

  test('info, label, usage', async () => {
    const info = JSON.parse(await ctr('snapshots', 'info', 'k2')) as Record<string, unknown>;
    expect(info).toMatchObject({ Kind: 'Active', Name: 'k2', Parent: 'c1' });
    expect(new Date(info.Created as string).getTime()).toBeGreaterThan(Date.now() - 60_000);

    expect(await ctr('snapshots', 'label', 'c1', 'team=gantry')).toMatch(/(^|,)team=gantry(,|$)/m);
    expect((JSON.parse(await ctr('snapshots', 'info', 'c1')) as { Labels: Record<string, string> }).Labels).toMatchObject({ team: 'gantry' });
    await ctr('snapshots', 'label', 'c1', 'team=');
    expect(s.overlay.stat('ns', 'c1').labels).not.toHaveProperty('team');

    const usage = rows(await ctr('snapshots', 'usage'));
    expect(usage[0]).toEqual(['KEY', 'SIZE', 'INODES']);
    // c1: fs/ + base.txt; k2: fs/ + top.txt (+ what overlayfs adds); v1: a view, 0
    expect(usage.find((r) => r[0] === 'c1')).toEqual(['c1', expect.stringMatching(/^\d+(\.\d+)?$/), expect.stringMatching(/B$/), '2']);
    expect(usage.find((r) => r[0] === 'v1')).toEqual(['v1', '0.0', 'B', '0']);
    expect(rows(await ctr('snapshots', 'usage', 'c1'))).toHaveLength(2);
  });

  test('rm: children first; errors as containerd words them', async () => {
    await expect(ctr('snapshots', 'rm', 'c1')).rejects.toMatchObject({ stderr: expect.stringMatching(/child.*failed precondition/) });
    await expect(ctr('snapshots', 'prepare', 'kx', 'nope')).rejects.toMatchObject({ stderr: expect.stringMatching(/not found/) });
    await expect(ctr('snapshots', 'prepare', 'k2')).rejects.toMatchObject({ stderr: expect.stringMatching(/already exists/) });
    await expect(ctr('snapshots', 'commit', 'c2', 'c1')).rejects.toMatchObject({ stderr: expect.stringMatching(/only active snapshots can be committed/) });
    await expect(ctr('snapshots', '--snapshotter', 'btrfs', 'ls')).rejects.toMatchObject({ stderr: expect.stringMatching(/snapshotter not loaded: btrfs/) });
    await ctr('snapshots', 'rm', 'k2', 'v1');
    await ctr('snapshots', 'rm', 'c1');
    expect(rows(await ctr('snapshots', 'ls'))).toEqual([['KEY', 'PARENT', 'KIND']]);
    // the records go at once; a removed snapshot's directory is deleted in the background (moved aside as rm-<id>-*)
    const dirs = path.join(s.dir, 'root', 'snapshots', 'overlayfs', 'snapshots');
    await waitFor("the removed snapshots' directories deleted", () => fs.readdirSync(dirs).length === 0);
    expect(fs.readdirSync(dirs)).toEqual([]);
  });
});
