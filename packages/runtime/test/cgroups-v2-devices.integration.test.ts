/**
 * The cgroup v2 device filter on the real kernel (root only). Works on a pure v2 host and on a
 * hybrid one, where the cgroup2 mount (/sys/fs/cgroup/unified) has no controllers but still runs
 * device programs attached to its directories.
 *
 * A busybox shell is moved into a fresh cgroup whose filter allows /dev/null only; it runs the
 * commands this test sends on its stdin, one at a time. A loop device over a file holding a marker
 * gives a block device whose content the host can read: the same node the shell is refused.
 * Everything made here (cgroups, loop device, temp dir, the shell) is removed in afterAll.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BPF, linuxSys, O, S_IF } from '@gantry/linux';
import { type CgroupV2Manager, openCgroup } from '../src/cgroups';
import type { DeviceCgroupRule } from '../src/spec/types';
import { cgroup2Mount, describeIf, needCgroup2, needFile, needRoot, needTool } from '@gantry/testkit';

const BUSYBOX = '/bin/busybox';

const maybe = describeIf(needRoot(), needFile(BUSYBOX, 'apt-get install busybox-static'), needTool('losetup', 'util-linux'), needCgroup2());

/** A shell that runs one command per line it reads and answers with its output and "rc=N". */
class Shell {
  private buffered = '';
  private waiter: (() => void) | undefined;
  readonly exited: Promise<void>;
  constructor(readonly proc: ChildProcessWithoutNullStreams) {
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (chunk: string) => {
      this.buffered += chunk;
      this.waiter?.();
    });
    this.exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    void this.exited.then(() => this.waiter?.());
  }
  get pid(): number {
    return this.proc.pid!;
  }
  /** Run `cmd` (stderr folded into stdout); resolves with its output and exit status. */
  async run(cmd: string): Promise<{ out: string; rc: number }> {
    this.proc.stdin.write(`{ ${cmd}; } 2>&1; echo "rc=$?"\n`);
    for (;;) {
      const m = /^([\s\S]*?)rc=(\d+)\n/.exec(this.buffered);
      if (m) {
        this.buffered = this.buffered.slice(m[0].length);
        return { out: m[1]!, rc: Number(m[2]) };
      }
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) throw new Error(`shell exited while running: ${cmd}`);
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }
}

maybe('cgroup v2 device filter on the real kernel', () => {
  const mount = cgroup2Mount()!;
  const parentPath = `/gantry-devtest-${randomBytes(4).toString('hex')}`;
  const cgPath = `${parentPath}/c`;
  const marker = `GANTRY-DEVICE-MARKER-${randomBytes(6).toString('hex')}`;
  let tmp: string;
  let loop: string | undefined;
  let loopMinor = -1;
  let shell: Shell | undefined;
  let cg: CgroupV2Manager;

  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gantry-devtest-'));
    const image = path.join(tmp, 'disk.img');
    fs.writeFileSync(image, Buffer.concat([Buffer.from(marker), Buffer.alloc(64 * 1024 - marker.length)]));
    const lo = spawnSync('losetup', ['--find', '--show', '--read-only', image], { encoding: 'utf8' });
    if (lo.status !== 0) throw new Error(`losetup failed: ${lo.stderr}`);
    loop = lo.stdout.trim();
    loopMinor = Number(/(\d+)$/.exec(loop)![1]);
    // Our own node of the loop device, outside /dev, and one of /dev/zero.
    linuxSys().mknod(path.join(tmp, 'blk'), S_IF.BLK | 0o666, 7, loopMinor);
    linuxSys().mknod(path.join(tmp, 'zero'), S_IF.CHR | 0o666, 1, 5);
  });

  afterAll(async () => {
    if (shell && shell.proc.exitCode === null && shell.proc.signalCode === null) shell.proc.kill('SIGKILL');
    await shell?.exited;
    // rmdir frees the cgroup and with it the attached programs.
    if (cg) openCgroup(parentPath, 'cleanup', { root: mount, version: 2 }).destroy();
    if (loop) spawnSync('losetup', ['-d', loop]);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** Ids of the device programs attached to the container's cgroup itself. */
  function attachedIds(): number[] {
    const sys = linuxSys();
    const fd = sys.open(cg.dir, O.RDONLY | O.DIRECTORY | O.CLOEXEC);
    try {
      return sys.bpfProgQuery(fd, BPF.CGROUP_DEVICE);
    } finally {
      sys.close(fd);
    }
  }

  const denyAll: DeviceCgroupRule = { allow: false, access: 'rwm' };
  const devNull: DeviceCgroupRule = { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' };

  it('refuses every device the rules do not allow, and follows an update', async () => {
    // The host reads the marker through the node: refusing it below is the filter's doing.
    const fd = fs.openSync(path.join(tmp, 'blk'), 'r');
    const head = Buffer.alloc(marker.length);
    fs.readSync(fd, head, 0, head.length, 0);
    fs.closeSync(fd);
    expect(head.toString()).toBe(marker);

    cg = openCgroup(cgPath, 'c', { root: mount, version: 2 }) as CgroupV2Manager;
    cg.create();
    cg.setResources({ devices: [denyAll, devNull] });
    expect(cg.warnings).toEqual([]);
    const first = attachedIds();
    expect(first).toHaveLength(1);

    const proc = spawn(BUSYBOX, ['sh', '-c', 'while read -r cmd; do eval "$cmd"; done'], { stdio: ['pipe', 'pipe', 'pipe'] });
    shell = new Shell(proc);
    cg.addProcess(shell.pid);
    expect(fs.readFileSync(`/proc/${shell.pid}/cgroup`, 'utf8')).toMatch(new RegExp(`^0::${cgPath}$`, 'm'));

    expect(await shell.run('cat /dev/null')).toEqual({ out: '', rc: 0 });
    expect(await shell.run('echo hello > /dev/null')).toEqual({ out: '', rc: 0 });
    const zero = await shell.run('head -c 1 /dev/zero');
    expect(zero.rc).not.toBe(0);
    expect(zero.out).toMatch(/Operation not permitted/);
    const blk = await shell.run(`head -c ${marker.length} ${tmp}/blk`);
    expect(blk.rc).not.toBe(0);
    expect(blk.out).toMatch(/Operation not permitted/);
    expect(blk.out).not.toContain(marker);
    const mknod = await shell.run(`mknod ${tmp}/made b 7 ${loopMinor}`);
    expect(mknod.out).toMatch(/Operation not permitted/);
    expect(fs.existsSync(path.join(tmp, 'made'))).toBe(false);

    // update: now /dev/zero (read only) and the loop device (read only) are allowed too.
    cg.setResources({
      devices: [
        denyAll,
        devNull,
        { allow: true, type: 'c', major: 1, minor: 5, access: 'r' },
        { allow: true, type: 'b', major: 7, minor: loopMinor, access: 'r' },
      ],
    });
    const second = attachedIds();
    expect(second).toHaveLength(1); // the old program was detached
    expect(second[0]).not.toBe(first[0]);
    expect(await shell.run(`head -c 1 ${tmp}/zero | wc -c`)).toEqual({ out: '1\n', rc: 0 });
    expect(await shell.run(`head -c ${marker.length} ${tmp}/blk`)).toEqual({ out: marker, rc: 0 });
    const write = await shell.run(`echo x > ${tmp}/zero`); // allowed for reading only
    expect(write.rc).not.toBe(0);
    expect(write.out).toMatch(/Operation not permitted/);
  });
});
