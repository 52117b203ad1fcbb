/**
 * Shared pieces of the container escape suite (test/escape*.e2e.test.ts):
 * - a host fixture: a fresh /tmp directory holding marker files with unique content, which an
 *   attack must neither read nor change (the proof an attack failed is on the host, not an error
 *   string);
 * - hostile images written as docker-archives from a modified busybox rootfs (/dev or /etc/passwd
 *   as symlinks to host paths, an image-shipped block device node, VOLUME /proc);
 * - a hand-made tar writer for hostile `docker cp -` uploads;
 * - the engines the suite runs against (gantryd, a private dockerd with runc, the same dockerd
 *   with `--runtime gantry`), all driven by the same docker CLI;
 * - a footprint (processes and mounts that belong to the daemon under test or name the fixture)
 *   to show nothing leaked.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { CommandResult } from './containerd';
import { TestDockerd } from './dockerd';
import { GantrydHarness, GANTRYD } from './gantryd';
import { bundleTool, isExecutable, runtimeUnderTest, which } from './paths';

// ---------------------------------------------------------------------------------------------
// Host fixture
// ---------------------------------------------------------------------------------------------

export class HostFixture {
  /** /tmp/esc-XXXXXX: markers, image rootfs trees and archives. */
  readonly dir: string;
  /** Unique per fixture; every attack command line carries it, so leaked processes are findable. */
  readonly token: string;
  /** A host file the container must never read: `<dir>/secret/marker`. */
  readonly marker: string;
  readonly markerContent: string;
  /** A host directory the container must never write into (holds only `<dir>/secret/marker`). */
  readonly secretDir: string;
  /** Loop devices attached for the suite (detached by remove()). */
  private readonly loops: string[] = [];

  constructor() {
    this.dir = fs.mkdtempSync('/tmp/esc-');
    this.token = basename(this.dir);
    this.secretDir = join(this.dir, 'secret');
    fs.mkdirSync(this.secretDir);
    this.marker = join(this.secretDir, 'marker');
    this.markerContent = `host-marker-${randomBytes(12).toString('hex')}`;
    fs.writeFileSync(this.marker, `${this.markerContent}\n`);
  }

  /** A relative path that climbs to `/` from any directory (and stays at `/` there), then names `abs`. */
  static climb(abs: string): string {
    return '../'.repeat(24) + abs.replace(/^\/+/, '');
  }

  /** Every entry below `dir` with type, size, mode, mtime and a hash of file contents. */
  static fingerprint(dir: string): string[] {
    const out: string[] = [];
    const walk = (d: string): void => {
      for (const n of fs.readdirSync(d).sort()) {
        const p = join(d, n);
        const st = fs.lstatSync(p);
        const kind = st.isDirectory() ? 'd' : st.isSymbolicLink() ? `l>${fs.readlinkSync(p)}` : st.isFile() ? `f#${sha256(fs.readFileSync(p))}` : `o${st.rdev}`;
        out.push(`${p} ${kind} ${st.size} ${st.mode.toString(8)} ${st.mtimeMs}`);
        if (st.isDirectory()) walk(p);
      }
    };
    walk(dir);
    return out;
  }

  /** The fingerprint of the secret directory (the marker and whatever an attack dropped next to it). */
  secretState(): string[] {
    return HostFixture.fingerprint(this.secretDir);
  }

  /**
   * A loop device over a fixture file that holds `content` (padded to 64 KiB): a block device whose
   * data is a marker, so a read through any node with its major:minor is recognisable.
   */
  attachLoop(content: string): { path: string; major: number; minor: number } {
    const file = join(this.dir, `loop-${this.loops.length}.img`);
    const data = Buffer.alloc(65536);
    data.write(content);
    fs.writeFileSync(file, data);
    const r = spawnSync('losetup', ['--find', '--show', '--read-only', file], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`losetup: ${r.stderr}`);
    const path = r.stdout.trim();
    this.loops.push(path);
    const rdev = fs.statSync(path).rdev;
    // glibc's encoding of dev_t
    return { path, major: Number((BigInt(rdev) >> 8n) & 0xfffn), minor: Number((BigInt(rdev) & 0xffn) | ((BigInt(rdev) >> 12n) & 0xfff00n)) };
  }

  /**
   * Detaches the loop devices, unmounts whatever an attack may have mounted below the fixture, then deletes it; if a mount
   * cannot be removed the tree is left alone (deleting through a bind of a host directory would
   * delete host files).
   */
  remove(): void {
    for (const l of this.loops.splice(0)) spawnSync('losetup', ['--detach', l], { stdio: 'ignore' });
    const under = (): string[] => mountPointsUnder(this.dir);
    for (const mp of under().reverse()) spawnSync('umount', ['-l', mp], { stdio: 'ignore' });
    const left = under();
    if (left.length > 0) {
      console.warn(`escape suite: not deleting ${this.dir}, still mounted: ${left.join(' ')}`);
      return;
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Mount points (host view) at or below `dir`, shortest first. */
export function mountPointsUnder(dir: string): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => (l.split(' ')[4] ?? '').replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((mp) => mp === dir || mp.startsWith(`${dir}/`))
    .sort((a, b) => a.length - b.length);
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

// ---------------------------------------------------------------------------------------------
// Images
// ---------------------------------------------------------------------------------------------

export interface ImageConfigExtras {
  Volumes?: Record<string, Record<string, never>>;
  Cmd?: string[];
  User?: string;
}

/**
 * Writes `rootfs` as a one-layer docker-archive (docker save format: manifest.json, the image
 * config named by its sha256, <diff_id>/layer.tar) that `docker load` takes. GNU tar keeps
 * symlinks, device nodes and numeric owners as they are in the tree.
 */
export function writeDockerArchive(rootfs: string, out: string, name: string, extras: ImageConfigExtras = {}): void {
  const work = fs.mkdtempSync(join(dirname(out), '.img-'));
  try {
    const files = spawnSync('sh', ['-c', 'find . -mindepth 1 | sed "s|^\\./||" | LC_ALL=C sort'], { cwd: rootfs, encoding: 'utf8' });
    if (files.status !== 0) throw new Error(`find in ${rootfs}: ${files.stderr}`);
    fs.writeFileSync(join(work, 'files'), files.stdout);
    const layer = join(work, 'layer.tar');
    const tar = spawnSync('tar', ['-C', rootfs, '--no-recursion', '--numeric-owner', '--mtime=@0', '--format=gnu', '-cf', layer, '-T', join(work, 'files')], {
      encoding: 'utf8',
    });
    if (tar.status !== 0) throw new Error(`tar of ${rootfs}: ${tar.stderr}`);
    const diffId = sha256(fs.readFileSync(layer));
    fs.mkdirSync(join(work, diffId));
    fs.renameSync(layer, join(work, diffId, 'layer.tar'));
    fs.writeFileSync(join(work, diffId, 'VERSION'), '1.0');
    const arch = process.arch === 'x64' ? 'amd64' : process.arch;
    const config = JSON.stringify({
      architecture: arch,
      os: 'linux',
      created: '1970-01-01T00:00:00Z',
      config: {
        Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
        Cmd: extras.Cmd ?? ['sh'],
        WorkingDir: '/',
        ...(extras.User ? { User: extras.User } : {}),
        ...(extras.Volumes ? { Volumes: extras.Volumes } : {}),
      },
      rootfs: { type: 'layers', diff_ids: [`sha256:${diffId}`] },
      history: [{ created: '1970-01-01T00:00:00Z', created_by: 'e2e/src/escape.ts' }],
    });
    const configId = sha256(config);
    fs.writeFileSync(join(work, `${configId}.json`), config);
    fs.writeFileSync(join(work, 'manifest.json'), JSON.stringify([{ Config: `${configId}.json`, RepoTags: [name], Layers: [`${diffId}/layer.tar`] }]));
    const [repo, tag] = name.split(':') as [string, string];
    fs.writeFileSync(join(work, 'repositories'), JSON.stringify({ [repo]: { [tag]: diffId } }));
    const pack = spawnSync(
      'tar',
      ['-C', work, '--numeric-owner', '--owner=0', '--group=0', '-cf', out, 'manifest.json', 'repositories', `${configId}.json`, diffId],
      { encoding: 'utf8' },
    );
    if (pack.status !== 0) throw new Error(`tar of the archive: ${pack.stderr}`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** major:minor of the block device holding the host's `/` (from mountinfo, else the first disk in /sys/block). */
export function hostRootDisk(): { major: number; minor: number; path: string } {
  const root = fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' '))
    .find((f) => f[4] === '/');
  const candidates: string[] = [];
  if (root?.[2]) candidates.push(root[2]);
  for (const d of fs.readdirSync('/sys/block')) {
    if (/^(loop|ram|zram|nbd|dm-|md)/.test(d)) continue;
    try {
      candidates.push(fs.readFileSync(`/sys/block/${d}/dev`, 'utf8').trim());
    } catch {
      // no dev file
    }
  }
  for (const c of candidates) {
    // a real block device has an entry in /sys/dev/block (an overlay or virtiofs root has 0:N and none)
    if (!fs.existsSync(`/sys/dev/block/${c}`)) continue;
    const [major, minor] = c.split(':').map(Number) as [number, number];
    const uevent = fs.readFileSync(`/sys/dev/block/${c}/uevent`, 'utf8');
    const devname = /^DEVNAME=(.*)$/m.exec(uevent)?.[1] ?? c;
    return { major, minor, path: `/dev/${devname}` };
  }
  throw new Error('no block device found for the host root filesystem');
}

export const IMAGES = {
  busybox: 'esc/busybox:latest',
  devLink: 'esc/dev-link:latest',
  passwdLink: 'esc/passwd-link:latest',
  passwdFile: 'esc/passwd-file:latest',
  blockDev: 'esc/block-dev:latest',
  procVolume: 'esc/proc-volume:latest',
} as const;

export interface AttackImages {
  /** docker-archive per image reference. */
  archives: Map<string, string>;
  /** The host directory the devLink image's /dev points at (holds one marker file). */
  devTarget: string;
  devMarker: string;
  devMarkerContent: string;
  /** The host passwd file the passwdLink image's /etc/passwd points at. */
  hostPasswd: string;
  /** The user the host passwd file defines (uid:gid 4242:4343), which must never reach a container. */
  passwdUser: string;
  /** The GECOS field of that entry: unique, so it shows up if the file is read. */
  passwdSecret: string;
  /** Block device nodes shipped by the blockDev image (mode 0666): the host's root disk, and a loop device. */
  diskNode: string;
  disk: { major: number; minor: number; path: string };
  loopNode: string;
  loop: { major: number; minor: number; path: string };
  /** What the loop device holds at offset 0. */
  loopMarker: string;
  /** Content of the fake /proc files the procVolume image ships (and hostProc holds). */
  fakeProc: string;
  /** A host directory with the same fake proc tree, bind-mounted on /proc by an attack. */
  hostProc: string;
}

/**
 * Builds the busybox rootfs once (tools/make-busybox-bundle.sh) and writes one docker-archive per
 * attack image into the fixture.
 */
export function buildAttackImages(fx: HostFixture): AttackImages {
  const bundle = join(fx.dir, 'bundle');
  const made = spawnSync('bash', [bundleTool, bundle, '--args', 'sh'], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`make-busybox-bundle: ${made.stderr}`);
  const base = join(bundle, 'rootfs');
  const archives = new Map<string, string>();
  const image = (name: string, edit: (rootfs: string) => void, extras: ImageConfigExtras = {}): void => {
    const slug = name.replace(/[^a-z0-9]+/gi, '_');
    const rootfs = join(fx.dir, `rootfs-${slug}`);
    const cp = spawnSync('cp', ['-a', base, rootfs], { encoding: 'utf8' });
    if (cp.status !== 0) throw new Error(`cp -a: ${cp.stderr}`);
    edit(rootfs);
    const out = join(fx.dir, `${slug}.tar`);
    writeDockerArchive(rootfs, out, name, extras);
    archives.set(name, out);
  };

  image(IMAGES.busybox, () => undefined);

  // /dev -> a host directory (runc GHSA-xjvp-4fhw-gc47; CVE-2025-52565 for /dev/console)
  const devTarget = join(fx.dir, 'devtarget');
  fs.mkdirSync(devTarget);
  const devMarker = join(devTarget, 'marker');
  const devMarkerContent = `dev-marker-${randomBytes(12).toString('hex')}`;
  fs.writeFileSync(devMarker, `${devMarkerContent}\n`);
  image(IMAGES.devLink, (r) => {
    fs.rmSync(join(r, 'dev'), { recursive: true });
    fs.symlinkSync(devTarget, join(r, 'dev'));
  });

  // /etc/passwd -> a host file defining a user the image does not have
  const hostPasswd = join(fx.dir, 'host-passwd');
  const passwdUser = 'escuser';
  const passwdSecret = `gecos-${randomBytes(12).toString('hex')}`;
  const passwdLine = `${passwdUser}:x:4242:4343:${passwdSecret}:/:/bin/sh\n`;
  fs.writeFileSync(hostPasswd, passwdLine);
  image(IMAGES.passwdLink, (r) => {
    fs.rmSync(join(r, 'etc', 'passwd'));
    fs.symlinkSync(hostPasswd, join(r, 'etc', 'passwd'));
  });
  // control: the same user in a real /etc/passwd of the image, to show what a leak would look like
  image(IMAGES.passwdFile, (r) => fs.appendFileSync(join(r, 'etc', 'passwd'), passwdLine));

  // world-readable nodes of the host's root disk and of a loop device holding a marker, shipped in the image
  const disk = hostRootDisk();
  const loopMarker = `loop-marker-${randomBytes(12).toString('hex')}`;
  const loop = fx.attachLoop(loopMarker);
  const diskNode = '/opt/disk';
  const loopNode = '/opt/loop';
  image(IMAGES.blockDev, (r) => {
    for (const [node, dev] of [
      [diskNode, disk],
      [loopNode, loop],
    ] as const) {
      const mk = spawnSync('mknod', ['-m', '0666', join(r, node), 'b', String(dev.major), String(dev.minor)], { encoding: 'utf8' });
      if (mk.status !== 0) throw new Error(`mknod ${node}: ${mk.stderr}`);
    }
  });

  // VOLUME /proc over a fake proc tree (CVE-2019-16884, runc#2128; moby CVE-2015-3631). The tree
  // has the files a runtime writes, lists or masks (a sysctl, /proc/self/attr, /proc/self/fd, kcore), so a runtime that
  // does not refuse the mount gets past its own set-up and runs with the fake /proc.
  const fakeProc = `fake-proc-${randomBytes(12).toString('hex')}`;
  const writeFakeProc = (dir: string): void => {
    fs.mkdirSync(join(dir, 'self', 'attr'), { recursive: true });
    fs.mkdirSync(join(dir, 'self', 'fd'), { recursive: true });
    fs.mkdirSync(join(dir, 'sys', 'net', 'ipv4'), { recursive: true });
    fs.writeFileSync(join(dir, 'version'), `${fakeProc}\n`);
    fs.writeFileSync(join(dir, 'kcore'), `${fakeProc}\n`);
    fs.writeFileSync(join(dir, 'self', 'attr', 'exec'), '');
    fs.writeFileSync(join(dir, 'sys', 'net', 'ipv4', 'ping_group_range'), `${fakeProc}\n`);
  };
  image(IMAGES.procVolume, (r) => writeFakeProc(join(r, 'proc')), { Volumes: { '/proc': {} } });
  // the same tree on the host, for `-v <host dir>:/proc`: nothing may be written into it
  const hostProc = join(fx.dir, 'hostproc');
  writeFakeProc(hostProc);

  return {
    archives,
    devTarget,
    devMarker,
    devMarkerContent,
    hostPasswd,
    passwdUser,
    passwdSecret,
    diskNode,
    disk,
    loopNode,
    loop,
    loopMarker,
    fakeProc,
    hostProc,
  };
}

// ---------------------------------------------------------------------------------------------
// Hand-made tars
// ---------------------------------------------------------------------------------------------

export interface TarMember {
  name: string;
  type?: 'file' | 'dir' | 'symlink' | 'hardlink';
  data?: string;
  linkname?: string;
  mode?: number;
}

/** A minimal ustar writer: names and link names are written exactly as given (`../`, absolute). */
export function makeTar(members: TarMember[]): Buffer {
  const out: Buffer[] = [];
  const typeFlag = { file: '0', hardlink: '1', symlink: '2', dir: '5' } as const;
  for (const m of members) {
    const type = m.type ?? 'file';
    const data = Buffer.from(type === 'file' ? (m.data ?? '') : '');
    if (Buffer.byteLength(m.name) > 100 || Buffer.byteLength(m.linkname ?? '') > 100) throw new Error(`tar name too long: ${m.name}`);
    const h = Buffer.alloc(512);
    const oct = (off: number, len: number, v: number): void => {
      h.write(v.toString(8).padStart(len - 1, '0') + '\0', off, len, 'latin1');
    };
    h.write(m.name, 0, 100, 'utf8');
    oct(100, 8, m.mode ?? (type === 'dir' ? 0o755 : 0o644));
    oct(108, 8, 0);
    oct(116, 8, 0);
    oct(124, 12, data.length);
    oct(136, 12, 1_600_000_000);
    h.write(typeFlag[type], 156, 1, 'latin1');
    h.write(m.linkname ?? '', 157, 100, 'utf8');
    h.write('ustar\x0000', 257, 8, 'latin1');
    h.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
    out.push(h);
    if (data.length > 0) out.push(data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  out.push(Buffer.alloc(1024));
  return Buffer.concat(out);
}

// ---------------------------------------------------------------------------------------------
// Engines under test
// ---------------------------------------------------------------------------------------------

export type TargetKind = 'gantryd' | 'dockerd-runc' | 'dockerd-gantry-runtime';

export interface EscapeTarget {
  readonly kind: TargetKind;
  /** The daemon's own directory: its processes name it on their command line, its mounts lie below it. */
  readonly dir: string;
  /** Added to every `docker run` / `docker create` (e.g. --runtime gantry). */
  readonly runFlags: string[];
  readonly env: NodeJS.ProcessEnv;
  logTail(): string;
  stop(): Promise<void>;
}

const DOCKER = which('docker') ?? '/usr/bin/docker';
const SBIN = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
const findTool = (name: string): string | undefined => which(name) ?? SBIN.map((d) => join(d, name)).find(isExecutable);

/** What a target needs on this machine that is missing (empty: it can run). */
export function missingFor(kind: TargetKind): string[] {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('root');
  for (const tool of ['docker', 'tar', 'mknod', 'losetup']) if (!findTool(tool)) missing.push(tool);
  if (!fs.existsSync('/bin/busybox')) missing.push('/bin/busybox (busybox-static)');
  if (kind === 'gantryd') {
    if (!isExecutable(GANTRYD)) missing.push(GANTRYD);
  } else {
    for (const tool of ['dockerd', 'containerd', 'runc', 'containerd-shim-runc-v2']) if (!findTool(tool)) missing.push(tool);
    if (kind === 'dockerd-gantry-runtime' && !isExecutable(runtimeUnderTest())) missing.push(runtimeUnderTest());
  }
  return missing;
}

export async function startTarget(kind: TargetKind): Promise<EscapeTarget> {
  if (kind === 'gantryd') {
    const h = await GantrydHarness.start('gesc-');
    return { kind, dir: h.dir, runFlags: [], env: h.env(), logTail: () => h.logTail(40), stop: () => h.stop() };
  }
  const runtime = kind === 'dockerd-runc' ? (findTool('runc') ?? 'runc') : runtimeUnderTest();
  const d = new TestDockerd(runtime);
  try {
    await d.start();
  } catch (e) {
    await d.stop();
    throw e;
  }
  return {
    kind,
    dir: d.dir,
    runFlags: kind === 'dockerd-runc' ? ['--runtime', 'runc'] : ['--runtime', 'gantry'],
    env: d.env,
    logTail: () => d.logTail(40),
    stop: () => d.stop(),
  };
}

export interface DockerCall {
  input?: Buffer | string;
  timeoutMs?: number;
}

/** The docker CLI against the target, synchronously. */
export function docker(t: EscapeTarget, args: string[], opts: DockerCall = {}): CommandResult {
  const r = spawnSync(DOCKER, args, {
    env: t.env,
    input: opts.input,
    stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    timeout: opts.timeoutMs ?? 60000,
    killSignal: 'SIGKILL',
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout?.toString('latin1') ?? '', stderr: r.stderr?.toString() ?? '' };
}

/** The docker CLI against the target, without blocking the event loop. */
export function dockerAsync(t: EscapeTarget, args: string[], opts: DockerCall = {}): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = spawn(DOCKER, args, { env: t.env, stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (c: Buffer) => out.push(c));
    child.stderr!.on('data', (c: Buffer) => err.push(c));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60000);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout: Buffer.concat(out).toString('latin1'), stderr: Buffer.concat(err).toString() });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

/**
 * Runs a docker command that streams (e.g. `logs -f`) until its output contains `text`, then ends
 * it. Rejects if the command exits first or `timeoutMs` passes.
 */
export function waitForOutput(t: EscapeTarget, args: string[], text: string, timeoutMs = 30000): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(DOCKER, args, { env: t.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let seen = '';
    let done = false;
    const finish = (err?: Error): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(() => finish(new Error(`docker ${args.join(' ')}: no "${text}" within ${timeoutMs} ms; got: ${seen.slice(-2000)}`)), timeoutMs);
    const onData = (c: Buffer): void => {
      seen += c.toString();
      if (seen.includes(text)) finish();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('close', (status) => finish(new Error(`docker ${args.join(' ')} exited (${status}) before printing "${text}": ${seen.slice(-2000)}`)));
  });
}

/** Runs `jobs` with at most `limit` in flight, results in order. */
export async function pooled<T>(jobs: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = new Array<T>(jobs.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await jobs[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
  return results;
}

// ---------------------------------------------------------------------------------------------
// Footprint
// ---------------------------------------------------------------------------------------------

export interface Footprint {
  /** Command lines of processes naming the daemon's directory or the fixture token (idle spare shims excluded). */
  procs: string[];
  /** Mount points naming the daemon's directory or the fixture directory. */
  mounts: string[];
}

export function footprint(t: EscapeTarget, fx: HostFixture): Footprint {
  const procs: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    if (Number(pid) === process.pid) continue;
    try {
      const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
      const cmd = argv.join(' ');
      if (!cmd.includes(t.dir) && !cmd.includes(fx.token)) continue;
      // gantry-containerd keeps one spare shim started ahead (`--warm`, waiting on its stdin): not a leak
      if (argv.includes('--warm') && /^(pipe|socket):/.test(fs.readlinkSync(`/proc/${pid}/fd/0`))) continue;
      procs.push(cmd);
    } catch {
      // exited meanwhile
    }
  }
  const mounts = [...mountPointsUnder(t.dir), ...mountPointsUnder(fx.dir)];
  return { procs: procs.sort(), mounts: mounts.sort() };
}
