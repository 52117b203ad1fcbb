/**
 * Device confinement of `gantry-runtime run`, checked from inside the container (root, real
 * kernel; on this host the cgroup v1 devices controller enforces it, on a v2 host the eBPF filter).
 *
 * The device is a read-only loop device over a file that starts with a random marker, so "the
 * attack would have worked" is shown by the host reading the marker through the very node the
 * container is refused. The image (a copy of the busybox rootfs) ships that block device node with
 * mode 0666, and a node of /dev/zero as a control that device nodes in the image do open.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BPF, linuxSys, O, S_IF } from '@gantry/linux';
import { describeRoot, useHarness, type Json } from './helpers';

// The library from the build (its stages run the bundle, dist/bundle/stage-main.js).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const lib = require('../../dist') as typeof import('../../src');

/** The cgroup2 mount of a hybrid host: a cgroup root the runtime sees as v2, without controllers. */
const UNIFIED = '/sys/fs/cgroup/unified';

const CAPS = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_MKNOD'];

if (process.env.CI && spawnSync('losetup', ['--version']).status !== 0) {
  it('has losetup (util-linux)', () => {
    throw new Error('losetup is missing: the device confinement test needs a loop device');
  });
}

/** Read the first `n` bytes of a device node from the host. */
function hostRead(node: string, n: number): string {
  const fd = fs.openSync(node, 'r');
  try {
    const buf = Buffer.alloc(n);
    const got = fs.readSync(fd, buf, 0, n, 0);
    return buf.subarray(0, got).toString();
  } finally {
    fs.closeSync(fd);
  }
}

describeRoot('device confinement (root integration)', () => {
  const H = useHarness('dev');
  const marker = `GANTRY-DEVICE-MARKER-${randomBytes(6).toString('hex')}`;
  let loop: string | undefined;
  let minor = -1;
  let rootfs: string;

  beforeAll(() => {
    const h = H();
    const image = h.file('disk.img');
    fs.writeFileSync(image, Buffer.concat([Buffer.from(marker), Buffer.alloc(64 * 1024 - marker.length)]));
    const lo = spawnSync('losetup', ['--find', '--show', '--read-only', image], { encoding: 'utf8' });
    if (lo.status !== 0) throw new Error(`losetup failed: ${lo.stderr || lo.error?.message}`);
    loop = lo.stdout.trim();
    const st = fs.statSync(loop);
    expect(st.isBlockDevice()).toBe(true);
    minor = Number(/(\d+)$/.exec(loop)![1]);
    // The image: a copy of the busybox rootfs with the two device nodes in it.
    rootfs = path.join(h.tmp, 'rootfs-devices');
    const cp = spawnSync('cp', ['-a', h.rootfs, rootfs]);
    if (cp.status !== 0) throw new Error(`cp -a failed: ${cp.stderr.toString()}`);
    linuxSys().mknod(path.join(rootfs, 'disk'), S_IF.BLK | 0o666, 7, minor);
    linuxSys().mknod(path.join(rootfs, 'zero2'), S_IF.CHR | 0o666, 1, 5);
    fs.chmodSync(path.join(rootfs, 'disk'), 0o666);
    fs.chmodSync(path.join(rootfs, 'zero2'), 0o666);
  });

  afterAll(() => {
    if (loop) spawnSync('losetup', ['-d', loop]);
  });

  /** A bundle running `script` in the device image, with CAP_MKNOD and a writable root. */
  function bundle(script: string, edit?: (c: Json) => void): string {
    return H().bundleFor(['sh', '-c', script], (c) => {
      c.root = { path: rootfs, readonly: false };
      for (const set of ['bounding', 'effective', 'permitted']) c.process.capabilities[set] = CAPS;
      edit?.(c);
    });
  }

  it('the host reads the marker through the node shipped in the image', () => {
    expect(hostRead(path.join(rootfs, 'disk'), marker.length)).toBe(marker);
  });

  it('a block device node shipped in the image (mode 0666) cannot be opened in the container', () => {
    const h = H();
    const script = [
      'head -c 1 /zero2 | wc -c | sed "s/^ */zero bytes=/"', // control: nodes in the image open
      `head -c ${marker.length} /disk; echo "disk rc=$?"`,
      `(exec 3</disk); echo "fd rc=$?"`,
      `dd if=/disk bs=512 count=1 2>&1 | head -c 200; echo`,
    ].join('\n');
    const id = h.id();
    const r = h.cli(['run', '-b', bundle(script), id]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^zero bytes=1$/m);
    expect(r.stdout).toMatch(/^disk rc=1$/m);
    expect(r.stderr).toMatch(/\/disk: Operation not permitted/);
    expect(r.stdout).toMatch(/^fd rc=[1-9]/m);
    expect(r.stdout + r.stderr).not.toContain(marker);
    // Still readable on the host after the run: the refusal was the container's confinement.
    expect(hostRead(path.join(rootfs, 'disk'), marker.length)).toBe(marker);
  });

  it('mknod of the block device inside the container succeeds, but the node cannot be opened there', () => {
    const h = H();
    const made = path.join(rootfs, 'made');
    fs.rmSync(made, { force: true });
    const script = [`mknod /made b 7 ${minor}; echo "mknod rc=$?"`, `head -c ${marker.length} /made; echo "made rc=$?"`].join('\n');
    const r = h.cli(['run', '-b', bundle(script), h.id()]);
    expect(r.status).toBe(0);
    expect(r.stdout + r.stderr).not.toContain(marker);
    // Allowed to make it (the default rules allow mknod of any device, as runc's do)...
    expect(r.stdout).toMatch(/^mknod rc=0$/m);
    // ...never to open it,
    expect(r.stdout).toMatch(/^made rc=1$/m);
    expect(r.stderr).toMatch(/\/made: Operation not permitted/);
    // though it is a working node of the device: the host reads the marker through it.
    expect(hostRead(made, marker.length)).toBe(marker);
    fs.rmSync(made, { force: true });
  });

  it('a rule in linux.resources.devices that allows the device lets the container read it', () => {
    // Proves the refusals above come from the device rules and nothing else (caps, nodev, LSM).
    const h = H();
    const b = bundle(`head -c ${marker.length} /disk; echo; echo "disk rc=$?"`, (c) => {
      c.linux.resources.devices.push({ allow: true, type: 'b', major: 7, minor, access: 'r' });
    });
    const r = h.cli(['run', '-b', b, h.id()]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(marker);
  });

  // On this hybrid host the CLI uses cgroup v1. Pointing the runtime (as a library) at the cgroup2
  // mount makes it use the v2 manager, so the eBPF filter alone confines a real container: its
  // processes stay in the root of the v1 devices hierarchy, which allows everything.
  const onHybrid = fs.existsSync(`${UNIFIED}/cgroup.controllers`) && !fs.existsSync('/sys/fs/cgroup/cgroup.controllers');
  (onHybrid ? it : it.skip)('with the v2 manager (cgroup2 mount), the eBPF filter refuses the device; an allow rule lets it through', async () => {
    const h = H();
    const rt = new lib.Runtime({ root: h.root, cgroupRoot: UNIFIED });
    const parent = `/gantry-devtest-${randomBytes(4).toString('hex')}`;
    const script = `head -c 1 /zero2 | wc -c | sed "s/^ */zero bytes=/"; head -c ${marker.length} /disk; echo; echo "disk rc=$?"; grep devices /proc/self/cgroup`;
    const runOnce = async (extra: Json[]): Promise<{ out: string; cgroupDir: string }> => {
      const id = h.id('v2');
      const log = path.join(h.tmp, `${id}.out`);
      const fd = fs.openSync(log, 'w');
      const cgroupDir = `${UNIFIED}${parent}/${id}`;
      try {
        const b = bundle(script, (c) => {
          c.linux.cgroupsPath = `${parent}/${id}`;
          c.linux.resources.devices.push(...extra);
        });
        const created = await rt.create(id, { bundle: b, stdio: ['ignore', fd, fd] });
        expect(fs.existsSync(cgroupDir)).toBe(true);
        expect(fs.readFileSync(`${cgroupDir}/cgroup.procs`, 'utf8').trim()).toBe(String(created.state.pid));
        if (!created.init) throw new Error('create returned no init process');
        const exited = lib.waitExit(created.init);
        await rt.start(id);
        expect(await exited).toBe(0);
      } finally {
        fs.closeSync(fd);
        await rt.delete(id, true).catch(() => undefined);
      }
      expect(fs.existsSync(cgroupDir)).toBe(false);
      return { out: fs.readFileSync(log, 'utf8'), cgroupDir };
    };
    try {
      const denied = await runOnce([]);
      expect(denied.out).toMatch(/^zero bytes=1$/m);
      expect(denied.out).toMatch(/\/disk: Operation not permitted/);
      expect(denied.out).not.toContain(marker);
      expect(denied.out).toMatch(/^\d+:devices:\/$/m); // not confined by the v1 devices controller
      const allowed = await runOnce([{ allow: true, type: 'b', major: 7, minor, access: 'r' }]);
      expect(allowed.out).toContain(marker);
    } finally {
      try {
        fs.rmdirSync(`${UNIFIED}${parent}`);
      } catch {
        // already gone
      }
    }
  });

  (onHybrid ? it : it.skip)('with the v2 manager, a filter the kernel will not attach stops create: nothing starts, nothing is left', async () => {
    const h = H();
    const rt = new lib.Runtime({ root: h.root, cgroupRoot: UNIFIED });
    const parent = `/gantry-devtest-${randomBytes(4).toString('hex')}`;
    const parentDir = `${UNIFIED}${parent}`;
    const sys = linuxSys();
    fs.mkdirSync(parentDir);
    const dirFd = sys.open(parentDir, O.RDONLY | O.DIRECTORY | O.CLOEXEC);
    try {
      // An allow-all program attached without ALLOW_OVERRIDE/ALLOW_MULTI: the kernel then refuses
      // any device program below it (EPERM), as it would for a policy the runtime may not override.
      const prog = sys.bpfProgLoad({ type: BPF.PROG_TYPE_CGROUP_DEVICE, insns: Buffer.from('b7000000010000009500000000000000', 'hex'), license: 'Apache' });
      sys.bpfProgAttach(dirFd, prog, BPF.CGROUP_DEVICE, 0);
      sys.close(prog);
      const id = h.id('v2fail');
      const b = bundle('echo started', (c) => (c.linux.cgroupsPath = `${parent}/${id}`));
      await expect(rt.create(id, { bundle: b, stdio: ['ignore', 'ignore', 'ignore'] })).rejects.toThrow(
        /cannot attach the device filter to .*device rules cannot be enforced.*EPERM/,
      );
      expect(fs.existsSync(`${parentDir}/${id}`)).toBe(false);
      expect(fs.existsSync(h.stateDir(id))).toBe(false);
      expect(rt.list().map((c) => c.id)).not.toContain(id);
    } finally {
      sys.close(dirFd);
      fs.rmdirSync(parentDir);
    }
  });
});
