/**
 * Mount set-up against hostile images on the real kernel (CVE-2021-30465, CVE-2019-16884,
 * CVE-2019-19921 classes): an image whose /dev, or a mount destination's parent, is a symlink to a
 * host directory gets nothing made on the host; nothing but procfs goes over /proc, nothing but
 * the files lxcfs provides goes inside it, and the masked paths stay masked.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describeRoot, mountsUnder, useHarness, type Harness } from './helpers';

/** A private copy of the harness rootfs (busybox and its links), to make hostile. */
function copyRootfs(h: Harness, name: string): string {
  const dir = fs.mkdtempSync(path.join(h.tmp, `${name}-`));
  const rootfs = path.join(dir, 'rootfs');
  const r = spawnSync('cp', ['-a', h.rootfs, rootfs], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cp -a failed: ${r.stderr}`);
  return rootfs;
}

/** A directory on the host, outside every rootfs, that must stay empty. */
function hostMarker(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'gantry-host-marker-'));
}

describeRoot('mounts against hostile images (root integration)', () => {
  const H = useHarness('mnt');
  const markers: string[] = [];
  afterAll(() => {
    for (const m of markers) fs.rmSync(m, { recursive: true, force: true });
  });
  const marker = () => {
    const m = hostMarker();
    markers.push(m);
    return m;
  };

  const linkKinds: [string, (host: string) => string][] = [
    ['absolute', (host) => host],
    ['relative, climbing with ..', (host) => '../'.repeat(16) + host.slice(1)],
  ];

  for (const [kind, target] of linkKinds) {
    it(`makes /dev inside the rootfs when the image's /dev is an ${kind} symlink to a host directory`, () => {
      const h = H();
      const host = marker();
      const rootfs = copyRootfs(h, 'devlink');
      fs.rmSync(path.join(rootfs, 'dev'), { recursive: true, force: true });
      fs.symlinkSync(target(host), path.join(rootfs, 'dev'));
      const script = 'ls -A /dev; [ -c /dev/null ] && echo null-is-chr; readlink /dev/fd; readlink /dev/ptmx; echo done';
      const b = h.bundleFor(['sh', '-c', script], (c) => (c.root.path = rootfs));
      const r = h.cli(['run', '-b', b, h.id()]);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^null-is-chr$/m);
      expect(r.stdout).toMatch(/^\/proc\/self\/fd$/m);
      expect(r.stdout).toMatch(/^pts\/ptmx$/m);
      expect(r.stdout).toMatch(/^done$/m);
      // the old code made /dev/fd, /dev/stdin, ..., /dev/ptmx on the host through the link
      expect(fs.readdirSync(host)).toEqual([]);
      expect(mountsUnder(rootfs)).toEqual([]);
    });
  }

  it('keeps a bind mount whose destination parent is a symlink to a host directory inside the rootfs', () => {
    const h = H();
    const host = marker();
    const src = fs.mkdtempSync(path.join(h.tmp, 'src-'));
    fs.writeFileSync(path.join(src, 'hello'), 'from the volume');
    const rootfs = copyRootfs(h, 'mntlink');
    fs.rmSync(path.join(rootfs, 'mnt'), { recursive: true, force: true });
    fs.symlinkSync(host, path.join(rootfs, 'mnt'));
    fs.symlinkSync('../'.repeat(16) + host.slice(1), path.join(rootfs, 'vol'));
    const b = h.bundleFor(['sh', '-c', 'cat /mnt/data/hello; echo; cat /vol/data2/hello'], (c) => {
      c.root.path = rootfs;
      c.mounts.push({ destination: '/mnt/data', type: 'bind', source: src, options: ['rbind', 'ro'] });
      c.mounts.push({ destination: '/vol/data2', type: 'bind', source: src, options: ['rbind'] });
    });
    const r = h.cli(['run', '-b', b, h.id()]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('from the volume\nfrom the volume');
    expect(fs.readdirSync(host)).toEqual([]);
    // the mount points were made inside the rootfs, where the links lead when read from inside
    expect(fs.existsSync(path.join(rootfs, host, 'data'))).toBe(true);
    expect(fs.existsSync(path.join(rootfs, host, 'data2'))).toBe(true);
    expect(mountsUnder(rootfs)).toEqual([]);
  });

  describe('/proc', () => {
    const KCORE = fs.existsSync('/proc/kcore');

    it('refuses a bind of a host directory over /proc (what an image VOLUME /proc becomes)', () => {
      const h = H();
      const decoy = fs.mkdtempSync(path.join(h.tmp, 'decoy-proc-'));
      const b = h.bundleFor(['true'], (c) => c.mounts.push({ destination: '/proc', type: 'bind', source: decoy, options: ['rbind'] }));
      const r = h.cli(['run', '-b', b, h.id()]);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/refusing to mount a bind of .*decoy-proc-.* over \/proc: only procfs may be mounted on \/proc/);
      expect(fs.readdirSync(decoy)).toEqual([]);
      expect(mountsUnder(h.rootfs)).toEqual([]);
    });

    it('refuses a destination that reaches /proc through a symlink in the image', () => {
      const h = H();
      const decoy = fs.mkdtempSync(path.join(h.tmp, 'decoy-'));
      const rootfs = copyRootfs(h, 'proclink');
      fs.symlinkSync('/proc', path.join(rootfs, 'data'));
      const b = h.bundleFor(['true'], (c) => {
        c.root.path = rootfs;
        c.mounts.push({ destination: '/data', type: 'bind', source: decoy, options: ['rbind'] });
      });
      const r = h.cli(['run', '-b', b, h.id()]);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/destination \/data resolves to \/proc/);
    });

    it('refuses mounts inside /proc, but lets an lxcfs-style file through with the masked paths still masked', () => {
      const h = H();
      const refused = h.bundleFor(['true'], (c) => c.mounts.push({ destination: '/proc/sys', type: 'tmpfs', source: 'tmpfs' }));
      const r1 = h.cli(['run', '-b', refused, h.id()]);
      expect(r1.status).not.toBe(0);
      expect(r1.stderr).toMatch(/refusing to mount tmpfs on \/proc\/sys: mounts inside \/proc are limited to/);

      const cpuinfo = h.file('cpuinfo', 'processor : 0 (lxcfs-style)\n');
      const script = [
        'cat /proc/cpuinfo',
        '[ -e /proc/kcore ] && echo "kcore $(wc -c < /proc/kcore)" || echo "kcore absent"',
        'echo "timer_list $(wc -c < /proc/timer_list)"',
        'echo x > /proc/sys/kernel/hostname; echo "sys rc=$?"',
        // the filesystem type is the field after the "-" that ends the optional fields
        'awk \'$5 == "/proc" { i = 7; while ($i != "-") i++; print "procfs " $(i + 1) }\' /proc/self/mountinfo',
      ].join('; ');
      const ok = h.bundleFor(['sh', '-c', script], (c) =>
        c.mounts.push({ destination: '/proc/cpuinfo', type: 'bind', source: cpuinfo, options: ['bind', 'ro'] }),
      );
      const r2 = h.cli(['run', '-b', ok, h.id()]);
      expect(r2.status).toBe(0);
      expect(r2.stdout).toMatch(/^processor : 0 \(lxcfs-style\)$/m);
      expect(r2.stdout).toMatch(KCORE ? /^kcore 0$/m : /^kcore absent$/m);
      expect(r2.stdout).toMatch(/^timer_list 0$/m);
      expect(r2.stdout).toMatch(/^sys rc=[1-9]/m);
      expect(r2.stdout).toMatch(/^procfs proc$/m);
    });
  });
});
