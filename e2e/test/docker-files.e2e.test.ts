/**
 * docker stats, cp, diff and export — the real docker CLI against gantryd — plus raw HTTP with
 * hostile input on the archive endpoints: traversal in `path`, container symlinks to "/" and
 * "/..", tars whose members climb out, an image whose /etc/passwd links to a host file. Nothing on
 * the host outside the container may change or be read.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { join } from 'node:path';
import { type GantrydHarness, sharedGantryd } from '../src/gantryd';
import { unixRequest } from '../src/http';

/** A minimal ustar writer for hand-made (hostile) archives. */
function tar(members: { name: string; type?: 'file' | 'dir' | 'symlink'; data?: string; linkname?: string; mode?: number }[]): Buffer {
  const out: Buffer[] = [];
  for (const m of members) {
    const data = Buffer.from(m.data ?? '');
    const h = Buffer.alloc(512);
    const oct = (off: number, len: number, v: number) => h.write(v.toString(8).padStart(len - 1, '0') + '\0', off, len, 'latin1');
    h.write(m.name, 0, 100, 'utf8');
    oct(100, 8, m.mode ?? (m.type === 'dir' ? 0o755 : 0o644));
    oct(108, 8, 0);
    oct(116, 8, 0);
    oct(124, 12, m.type === 'file' || m.type === undefined ? data.length : 0);
    oct(136, 12, 1_600_000_000);
    h.write(m.type === 'dir' ? '5' : m.type === 'symlink' ? '2' : '0', 156, 1, 'latin1');
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

/** Member names of a tar (ustar / GNU / PAX names via the system tar). */
function tarList(buf: Buffer): string[] {
  const r = spawnSync('tar', ['-tf', '-'], { input: buf });
  if (r.status !== 0) throw new Error(`tar -t: ${r.stderr.toString()}`);
  return r.stdout.toString().split('\n').filter(Boolean);
}

/** The fields of a stats object (GET /containers/{id}/stats) the test below reads. */
interface StatsJson {
  name: string;
  read: string;
  preread: string;
  networks?: unknown;
  memory_stats: { limit: number };
  pids_stats: { current: number };
  cpu_stats: { cpu_usage: { total_usage: number }; system_cpu_usage: number; online_cpus: number };
  precpu_stats: { system_cpu_usage: number };
}

describe('docker stats / cp / diff / export against gantryd', () => {
  let h: GantrydHarness;
  let hostDir: string;

  /** Raw HTTP with a binary body both ways. */
  const raw = (method: string, path: string, body?: Buffer) =>
    unixRequest(h.sock, method, path, body, body ? { 'Content-Type': 'application/x-tar', 'Content-Length': body.length } : {});
  const q = encodeURIComponent;
  const message = (b: Buffer) => (JSON.parse(b.toString()) as { message: string }).message;

  /** Every entry below `dir` with its size and mode: a fingerprint of the host tree. */
  const fingerprint = (dir: string): string[] => {
    const out: string[] = [];
    const walk = (d: string) => {
      for (const n of fs.readdirSync(d).sort()) {
        const p = join(d, n);
        const st = fs.lstatSync(p);
        out.push(`${p}:${st.size}:${st.mode}`);
        if (st.isDirectory()) walk(p);
      }
    };
    walk(dir);
    return out;
  };

  beforeAll(async () => {
    h = await sharedGantryd();
    hostDir = join(h.dir, 'host');
    fs.mkdirSync(join(hostDir, 'tree', 'sub'), { recursive: true });
    fs.writeFileSync(join(hostDir, 'file.txt'), 'hello from the host\n');
    fs.chmodSync(join(hostDir, 'file.txt'), 0o640);
    fs.writeFileSync(join(hostDir, 'tree', 'sub', 'deep.sh'), '#!/bin/sh\necho deep\n');
    fs.chmodSync(join(hostDir, 'tree', 'sub', 'deep.sh'), 0o750);
    fs.chmodSync(join(hostDir, 'tree', 'sub'), 0o700);
    fs.writeFileSync(join(hostDir, 'marker'), 'host only');
    h.ok(['run', '-d', '--name', 'run1', '--memory', '64m', 'busybox', 'sleep', '1000']);
    h.ok(['create', '--name', 'stopped1', 'busybox', 'true']);
  }, 120000);

  afterAll(async () => {
    await h?.stop();
  });

  it('docker stats --no-stream shows CPU %, memory usage / limit and PIDS', () => {
    const out = h.ok(['stats', '--no-stream']);
    const line = out.split('\n').find((l) => l.includes('run1'));
    expect(line).toBeDefined();
    // CONTAINER ID  NAME  CPU %  MEM USAGE / LIMIT  MEM %  NET I/O  BLOCK I/O  PIDS
    expect(line).toMatch(/run1\s+\d+\.\d+%\s+[\d.]+[KMG]?i?B\s+\/\s+64MiB\s+\d+\.\d+%.*\s1$/);
    const mem = h.ok(['stats', '--no-stream', '--format', '{{.MemUsage}}|{{.PIDs}}', 'run1']).trim();
    expect(mem).toMatch(/^[\d.]+[KMG]?i?B \/ 64MiB\|1$/);
    expect(Number.parseFloat(mem)).toBeGreaterThan(0);
  });

  it('stats JSON: stream=false primes precpu, stopped containers report zeros, stream=true sends one object per second', async () => {
    const once = JSON.parse((await raw('GET', '/containers/run1/stats?stream=false')).body.toString()) as StatsJson;
    expect(once.name).toBe('/run1');
    expect(once.memory_stats.limit).toBe(64 * 1024 * 1024);
    expect(once.pids_stats.current).toBe(1);
    expect(once.cpu_stats.cpu_usage.total_usage).toBeGreaterThan(0);
    expect(once.cpu_stats.system_cpu_usage).toBeGreaterThan(once.precpu_stats.system_cpu_usage);
    expect(once.cpu_stats.online_cpus).toBeGreaterThan(0);
    expect(once.preread).not.toBe('0001-01-01T00:00:00Z');
    expect(once.networks).toBeUndefined();

    const oneShot = JSON.parse((await raw('GET', '/containers/run1/stats?stream=false&one-shot=true')).body.toString()) as StatsJson;
    expect(oneShot.preread).toBe('0001-01-01T00:00:00Z');

    const stopped = JSON.parse((await raw('GET', '/containers/stopped1/stats?stream=false')).body.toString()) as StatsJson;
    expect(stopped).toMatchObject({ read: '0001-01-01T00:00:00Z', name: '/stopped1', memory_stats: {}, pids_stats: {} });

    const lines = await new Promise<string[]>((resolve, reject) => {
      const got: string[] = [];
      let buf = '';
      const req = http.get({ socketPath: h.sock, path: '/containers/run1/stats' }, (res) => {
        res.on('data', (c: Buffer) => {
          buf += c.toString();
          const parts = buf.split('\n');
          buf = parts.pop()!;
          got.push(...parts.filter(Boolean));
          if (got.length >= 2) {
            req.destroy();
            resolve(got);
          }
        });
      });
      req.on('error', (e) => (got.length >= 2 ? undefined : reject(e)));
    });
    const [a, b] = lines.map((l) => JSON.parse(l) as StatsJson);
    expect(b!.preread).toBe(a!.read);
    expect(Date.parse(b!.read) - Date.parse(a!.read)).toBeGreaterThanOrEqual(500);
    const missing = await raw('GET', '/containers/nope-nope/stats?stream=false');
    expect(missing.status).toBe(404);
  });

  it('docker cp host → container (file and directory, running and stopped) keeps contents and modes', () => {
    for (const c of ['run1', 'stopped1']) {
      h.ok(['cp', join(hostDir, 'file.txt'), `${c}:/tmp/`]);
      h.ok(['cp', join(hostDir, 'tree'), `${c}:/tmp/tree`]);
      h.ok(['cp', join(hostDir, 'file.txt'), `${c}:/renamed.txt`]);
    }
    const ls = h.ok([
      'exec',
      'run1',
      'sh',
      '-c',
      'cat /tmp/file.txt /renamed.txt /tmp/tree/sub/deep.sh; stat -c "%a %n" /tmp/file.txt /tmp/tree/sub /tmp/tree/sub/deep.sh',
    ]);
    expect(ls).toBe('hello from the host\nhello from the host\n#!/bin/sh\necho deep\n640 /tmp/file.txt\n700 /tmp/tree/sub\n750 /tmp/tree/sub/deep.sh\n');
    // the stopped container sees the files when it runs
    h.ok(['rm', 'stopped1']);
    h.ok(['create', '--name', 'stopped1', 'busybox', 'sh', '-c', 'cat /tmp/file.txt /tmp/tree/sub/deep.sh; stat -c "%a" /tmp/file.txt /tmp/tree/sub/deep.sh']);
    h.ok(['cp', join(hostDir, 'file.txt'), 'stopped1:/tmp/']);
    h.ok(['cp', join(hostDir, 'tree'), 'stopped1:/tmp/tree']);
    expect(h.ok(['start', '-a', 'stopped1'])).toBe('hello from the host\n#!/bin/sh\necho deep\n640\n750\n');
    // -a (copyUIDGID) gives the files the container's user; without it the archive's owners stay
    fs.chownSync(join(hostDir, 'file.txt'), 777, 888);
    h.ok(['create', '--name', 'owned', '--user', '123:456', 'busybox', 'true']);
    h.ok(['cp', '-a', join(hostDir, 'file.txt'), 'owned:/tmp/a.txt']);
    h.ok(['cp', join(hostDir, 'file.txt'), 'owned:/tmp/n.txt']);
    const owners = spawnSync('tar', ['-tvnf', '-'], { input: spawnSync('docker', ['cp', 'owned:/tmp', '-'], { env: h.env() }).stdout }).stdout.toString();
    expect(owners).toMatch(/ 123\/456 .* tmp\/a\.txt\n/);
    expect(owners).toMatch(/ 777\/888 .* tmp\/n\.txt\n/);
    fs.chownSync(join(hostDir, 'file.txt'), 0, 0);
    // copying a directory onto a file is refused (noOverwriteDirNonDir), a missing destination dir is a 404
    expect(h.docker(['cp', join(hostDir, 'tree'), 'run1:/tmp/file.txt']).status).not.toBe(0);
    const nodir = h.docker(['cp', join(hostDir, 'file.txt'), 'run1:/no/such/dir/']);
    expect(nodir.status).not.toBe(0);
  });

  it('docker cp container → host (file and directory, running and stopped)', () => {
    h.ok(['exec', 'run1', 'sh', '-c', 'mkdir -p /data/in && echo payload > /data/in/p.txt && chmod 604 /data/in/p.txt']);
    const out = join(h.dir, 'out');
    fs.mkdirSync(out);
    h.ok(['cp', 'run1:/data', join(out, 'data')]);
    expect(fs.readFileSync(join(out, 'data', 'in', 'p.txt'), 'utf8')).toBe('payload\n');
    expect(fs.statSync(join(out, 'data', 'in', 'p.txt')).mode & 0o777).toBe(0o604);
    h.ok(['cp', 'run1:/etc/passwd', join(out, 'passwd')]);
    expect(fs.readFileSync(join(out, 'passwd'), 'utf8')).toBe(h.ok(['exec', 'run1', 'cat', '/etc/passwd']));
    h.ok(['cp', 'stopped1:/tmp/tree', join(out, 'tree')]);
    expect(fs.readFileSync(join(out, 'tree', 'sub', 'deep.sh'), 'utf8')).toBe('#!/bin/sh\necho deep\n');
    expect(fs.statSync(join(out, 'tree', 'sub')).mode & 0o777).toBe(0o700);
    const missing = h.docker(['cp', 'run1:/does/not/exist', out]);
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toMatch(/Could not find the file \/does\/not\/exist in container run1/);
  });

  it('docker diff lists added, changed and deleted paths', () => {
    h.ok(['run', '-d', '--name', 'differ', 'busybox', 'sleep', '1000']);
    h.ok(['exec', 'differ', 'sh', '-c', 'touch /etc/passwd && echo n > /created && rm /bin/vi && mkdir -p /newdir/x']);
    const lines = h.ok(['diff', 'differ']).trim().split('\n');
    expect(lines).toEqual(expect.arrayContaining(['C /etc/passwd', 'A /created', 'C /bin', 'D /bin/vi', 'A /newdir', 'A /newdir/x']));
    expect(lines.filter((l) => l.startsWith('D '))).toEqual(['D /bin/vi']);
    h.ok(['stop', '-t', '1', 'differ']);
    expect(h.ok(['diff', 'differ']).trim().split('\n')).toEqual(lines);
    expect(h.ok(['diff', 'stopped1'])).toMatch(/A \/tmp\/file.txt/);
  });

  it('docker export streams the whole filesystem', () => {
    h.ok(['exec', 'run1', 'sh', '-c', 'echo exported > /exported.txt']);
    const file = join(h.dir, 'export.tar');
    h.ok(['export', '-o', file, 'run1']);
    const names = tarList(fs.readFileSync(file));
    expect(names).toEqual(expect.arrayContaining(['bin/busybox', 'exported.txt', 'etc/passwd', 'tmp/tree/sub/deep.sh']));
    const stoppedNames = tarList(Buffer.from(spawnSync('docker', ['export', 'differ'], { env: h.env(), maxBuffer: 64 << 20 }).stdout));
    expect(stoppedNames).toEqual(expect.arrayContaining(['bin/busybox', 'created']));
    expect(stoppedNames).not.toContain('bin/vi');
  });

  it('archive endpoints stay inside the container on hostile input', async () => {
    const before = fingerprint(hostDir);
    // path traversal: "../../etc/shadow" is the container's /etc/shadow (busybox has none), never the host's
    expect(fs.existsSync('/etc/shadow')).toBe(true);
    const shadow = await raw('GET', `/containers/run1/archive?path=${q('../../etc/shadow')}`);
    expect(shadow.status).toBe(404);
    expect(message(shadow.body)).toBe('Could not find the file ../../etc/shadow in container run1');
    expect((await raw('HEAD', `/containers/run1/archive?path=${q('/../../../etc/shadow')}`)).status).toBe(404);

    // symlinks in the container to "/" and "/.." resolve to the container's root
    h.ok(['exec', 'run1', 'sh', '-c', 'ln -s / /tmp/toroot && ln -s /.. /tmp/up && ln -s ../../../../../.. /tmp/climb']);
    for (const link of ['/tmp/toroot', '/tmp/up', '/tmp/climb']) {
      expect((await raw('GET', `/containers/run1/archive?path=${q(`${link}${hostDir}/marker`)}`)).status).toBe(404);
      const pw = await raw('GET', `/containers/run1/archive?path=${q(`${link}/etc/passwd`)}`);
      expect(pw.status).toBe(200);
      expect(tarList(pw.body)).toEqual(['passwd']);
    }
    const head = await raw('HEAD', `/containers/run1/archive?path=${q('/tmp/up')}`);
    expect(head.status).toBe(200);
    const stat = JSON.parse(Buffer.from(String(head.headers['x-docker-container-path-stat']), 'base64').toString()) as Record<string, unknown>;
    expect(stat).toMatchObject({ name: 'up', linkTarget: '/', mode: 2 ** 27 + 0o777 });
    const dirStat = JSON.parse(
      Buffer.from(
        String((await raw('HEAD', `/containers/run1/archive?path=${q('/tmp/tree/sub')}`)).headers['x-docker-container-path-stat']),
        'base64',
      ).toString(),
    ) as Record<string, unknown>;
    expect(dirStat).toMatchObject({ name: 'sub', mode: 2 ** 31 + 0o700, linkTarget: '' });

    // PUT: members climbing out are refused before anything is written
    const hostile = tar([
      { name: 'first-ok.txt', data: 'a' },
      { name: `../../../../../..${hostDir}/pwned`, data: 'x' },
    ]);
    const refused = await raw('PUT', `/containers/run1/archive?path=/tmp`, hostile);
    expect(refused.status).toBe(400);
    expect(h.docker(['exec', 'run1', 'test', '-e', '/tmp/first-ok.txt']).status).not.toBe(0);
    // a symlink member to "/.." followed by members through it: confined to the container's root
    const viaLink = tar([
      { name: 'esc', type: 'symlink', linkname: '/..' },
      { name: `esc${hostDir}/pwned`, data: 'x' },
    ]);
    expect((await raw('PUT', `/containers/run1/archive?path=/tmp`, viaLink)).status).toBe(200);
    expect(h.ok(['exec', 'run1', 'cat', `${hostDir}/pwned`])).toBe('x');
    // the destination through the container's own "/.." link is the container's root
    expect((await raw('PUT', `/containers/run1/archive?path=${q('/tmp/up')}`, tar([{ name: 'at-root.txt', data: 'r' }]))).status).toBe(200);
    expect(h.ok(['exec', 'run1', 'cat', '/at-root.txt'])).toBe('r');
    // the same into a stopped container
    expect((await raw('PUT', `/containers/differ/archive?path=/`, viaLink)).status).toBe(200);
    expect(fingerprint(hostDir)).toEqual(before);
    expect(fs.existsSync(join(hostDir, 'pwned'))).toBe(false);

    // errors: missing path, non-directory destination, unknown container, empty path, read-only rootfs
    const miss = await raw('PUT', `/containers/run1/archive?path=/no/where`, tar([{ name: 'x', data: 'x' }]));
    expect(miss.status).toBe(404);
    expect(message(miss.body)).toMatch(/Could not find the file \/no\/where in container run1/);
    const notDir = await raw('PUT', `/containers/run1/archive?path=/etc/passwd`, tar([{ name: 'x', data: 'x' }]));
    expect(notDir.status).toBe(400);
    expect(message(notDir.body)).toBe('extraction point is not a directory');
    for (const [m, p] of [
      ['GET', '/containers/nope-nope/archive?path=/'],
      ['HEAD', '/containers/nope-nope/archive?path=/'],
      ['GET', '/containers/nope-nope/changes'],
      ['GET', '/containers/nope-nope/export'],
    ] as const) {
      expect((await raw(m, p)).status).toBe(404);
    }
    expect((await raw('PUT', '/containers/nope-nope/archive?path=/', tar([]))).status).toBe(404);
    expect((await raw('GET', '/containers/run1/archive')).status).toBe(400);
    h.ok(['create', '--name', 'ro1', '--read-only', 'busybox', 'true']);
    const ro = await raw('PUT', '/containers/ro1/archive?path=/tmp', tar([{ name: 'x', data: 'x' }]));
    expect(ro.status).toBe(400);
    expect(message(ro.body)).toBe('container rootfs is marked read-only');
    expect((await raw('PUT', '/containers/run1/archive?path=/tmp', Buffer.from('garbage, not a tar'))).status).toBe(400);
  });

  it("-u name reads the image's /etc/passwd inside the image, never the host file it links to", () => {
    const marker = join(h.dir, 'host-passwd');
    fs.writeFileSync(marker, 'hostuser:x:4242:4242::/:/bin/sh\n');
    const root = join(h.dir, 'linked-passwd-image');
    fs.mkdirSync(join(root, 'etc'), { recursive: true });
    fs.symlinkSync(marker, join(root, 'etc', 'passwd'));
    const tarFile = join(h.dir, 'linked-passwd-image.tar');
    expect(spawnSync('tar', ['-cf', tarFile, '-C', root, '.']).status).toBe(0);
    h.ok(['import', tarFile, 'linked-passwd:latest']);
    const r = h.docker(['create', '-u', 'hostuser', 'linked-passwd', '/true']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('unable to find user hostuser: no matching entries in passwd file');
    expect(fs.readFileSync(marker, 'utf8')).toBe('hostuser:x:4242:4242::/:/bin/sh\n');
  });

  it('leaves no temporary mounts behind', () => {
    const mounts = fs.readFileSync('/proc/self/mounts', 'utf8');
    expect(mounts).not.toContain(join(h.dir, 'data', 'tmp'));
    expect(fs.readdirSync(join(h.dir, 'data', 'tmp', 'rootfs'))).toEqual([]);
    expect(fs.readdirSync(join(h.dir, 'data', 'tmp')).filter((n) => n.startsWith('put-'))).toEqual([]);
  });
});
