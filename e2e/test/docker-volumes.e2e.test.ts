/**
 * Volumes and mounts in gantryd, driven by the real docker CLI: named and anonymous volumes,
 * copy-up, binds, tmpfs, tmpfs-/bind-typed local volumes, the volume commands and their errors.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { GantrydHarness } from '../src/gantryd';
import { bundleTool } from '../src/paths';

interface InspectMount {
  Type: string;
  Name?: string;
  Source: string;
  Destination: string;
  Driver?: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
}

/** Mount points at or below `dir` in our mount namespace. */
function mountsUnder(dir: string): string[] {
  return fs
    .readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .filter((m) => m === dir || m.startsWith(`${dir}/`));
}

describe('docker volumes and mounts against gantryd', () => {
  let h: GantrydHarness;
  const volumeDir = (name: string) => join(h.dir, 'data', 'volumes', name, '_data');
  const mountsOf = (ref: string): InspectMount[] => JSON.parse(h.ok(['inspect', '-f', '{{json .Mounts}}', ref])) as InspectMount[];
  const volumes = (...args: string[]) =>
    h
      .ok(['volume', 'ls', '-q', ...args])
      .split('\n')
      .filter(Boolean)
      .sort();

  beforeAll(async () => {
    h = await GantrydHarness.start('gvol-');
    h.loadBusybox();
  }, 60000);

  afterAll(async () => {
    await h?.stop();
  }, 60000);

  test('data in a named volume outlives docker rm and is seen by the next container', () => {
    h.ok(['volume', 'create', 'keep1']);
    h.ok(['run', '--name', 'writer', '-v', 'keep1:/d', 'busybox', 'sh', '-c', 'echo hello > /d/f']);
    expect(mountsOf('writer')).toEqual([
      { Type: 'volume', Name: 'keep1', Source: volumeDir('keep1'), Destination: '/d', Driver: 'local', Mode: 'z', RW: true, Propagation: '' },
    ]);
    h.ok(['rm', 'writer']);
    expect(h.ok(['run', '--rm', '-v', 'keep1:/d', 'busybox', 'cat', '/d/f'])).toBe('hello\n');
    expect(fs.readFileSync(join(volumeDir('keep1'), 'f'), 'utf8')).toBe('hello\n');
    const v = JSON.parse(h.ok(['volume', 'inspect', 'keep1'])) as Record<string, unknown>[];
    expect(v[0]).toMatchObject({ Name: 'keep1', Driver: 'local', Mountpoint: volumeDir('keep1'), Scope: 'local' });
  });

  test('copy-up: a new volume at /etc holds the image passwd (modes kept); nocopy stays empty', () => {
    expect(h.ok(['run', '--rm', '-v', 'etcvol:/etc', 'busybox', 'grep', '^root:', '/etc/passwd'])).toMatch(/^root:x:0:0:/);
    const st = fs.statSync(join(volumeDir('etcvol'), 'passwd'));
    expect([st.mode & 0o777, st.uid]).toEqual([0o644, 0]);
    // a volume that already has content is not copied into again
    fs.writeFileSync(join(volumeDir('etcvol'), 'passwd'), 'mine:x:5:5::/:/bin/sh\n');
    expect(h.ok(['run', '--rm', '-v', 'etcvol:/etc', 'busybox', 'cat', '/etc/passwd'])).toBe('mine:x:5:5::/:/bin/sh\n');
    h.ok(['run', '--rm', '--mount', 'type=volume,src=nocopyvol,dst=/etc,volume-nocopy', 'busybox', 'true']);
    expect(fs.readdirSync(volumeDir('nocopyvol')).filter((f) => !['hostname', 'hosts', 'resolv.conf'].includes(f))).toEqual([]);
  });

  test("the image's VOLUMEs become anonymous volumes with the image content (owner, mode, symlinks kept)", () => {
    const src = join(h.dir, 'volimg');
    const made = spawnSync('bash', [bundleTool, src, '--args', 'sh'], { encoding: 'utf8' });
    if (made.status !== 0) throw new Error(made.stderr);
    const data = join(src, 'rootfs', 'data');
    fs.mkdirSync(join(data, 'sub'), { recursive: true });
    fs.writeFileSync(join(data, 'f'), 'image file\n');
    fs.chownSync(join(data, 'f'), 1000, 1001);
    fs.chmodSync(join(data, 'f'), 0o640);
    fs.symlinkSync('../f', join(data, 'sub', 'l'));
    fs.chmodSync(data, 0o710);
    fs.chownSync(data, 1000, 1001);
    const tar = spawnSync('tar', ['-C', join(src, 'rootfs'), '-cf', join(h.dir, 'volimg.tar'), '.'], { encoding: 'utf8' });
    if (tar.status !== 0) throw new Error(tar.stderr);
    h.ok(['import', '--change', 'VOLUME /data', '--change', 'CMD ["sh"]', join(h.dir, 'volimg.tar'), 'volimg:1']);
    const out = h.ok(['run', '--name', 'imgvol', 'volimg:1', 'sh', '-c', 'stat -c "%u:%g %a" /data /data/f; readlink /data/sub/l; cat /data/sub/l']);
    expect(out).toBe('1000:1001 710\n1000:1001 640\n../f\nimage file\n');
    const [m] = mountsOf('imgvol');
    expect(m).toMatchObject({ Type: 'volume', Destination: '/data', Driver: 'local', Mode: '', RW: true, Propagation: '' });
    expect(m!.Name).toMatch(/^[0-9a-f]{64}$/);
    h.ok(['rm', '-v', 'imgvol']);
    expect(volumes()).not.toContain(m!.Name);
    // a bind at the VOLUME path replaces it: no anonymous volume is made
    const host = join(h.dir, 'overdata');
    fs.mkdirSync(host);
    const before = volumes();
    expect(h.ok(['run', '--rm', '-v', `${host}:/data`, 'volimg:1', 'ls', '-A', '/data'])).toBe('');
    expect(volumes()).toEqual(before);
    h.ok(['rmi', 'volimg:1']);
  });

  test('-v /host:/ctr:ro refuses writes; rw binds write through; a missing -v source is created', () => {
    const host = join(h.dir, 'hostdir');
    fs.mkdirSync(host);
    fs.writeFileSync(join(host, 'in'), 'from host\n');
    const ro = h.docker(['run', '--name', 'robind', '-v', `${host}:/h:ro`, 'busybox', 'sh', '-c', 'cat /h/in && echo x > /h/out']);
    expect(ro.status).not.toBe(0);
    expect(ro.stdout).toBe('from host\n');
    expect(ro.stderr).toMatch(/Read-only file system/);
    expect(fs.existsSync(join(host, 'out'))).toBe(false);
    expect(mountsOf('robind')).toEqual([{ Type: 'bind', Source: host, Destination: '/h', Mode: 'ro', RW: false, Propagation: 'rprivate' }]);
    h.ok(['rm', 'robind']);
    h.ok(['run', '--rm', '-v', `${host}:/h`, 'busybox', 'sh', '-c', 'echo written > /h/out']);
    expect(fs.readFileSync(join(host, 'out'), 'utf8')).toBe('written\n');
    h.ok(['create', '--name', 'mbind', '--mount', `type=bind,src=${host},dst=/h,readonly,bind-propagation=rslave`, 'busybox', 'true']);
    expect(mountsOf('mbind')).toEqual([{ Type: 'bind', Source: host, Destination: '/h', Mode: '', RW: false, Propagation: 'rslave' }]);
    h.ok(['rm', 'mbind']);
    const created = join(h.dir, 'made', 'by', 'docker');
    h.ok(['run', '--rm', '-v', `${created}:/m`, 'busybox', 'true']);
    expect(fs.statSync(created).isDirectory()).toBe(true);
  });

  test('--tmpfs is an empty tmpfs; --mount type=tmpfs enforces tmpfs-size', () => {
    const out = h.ok(['run', '--rm', '--tmpfs', '/t', 'busybox', 'sh', '-c', 'ls -A /t | wc -l; grep " /t " /proc/mounts']);
    const [count, line] = out.trim().split('\n');
    expect(count!.trim()).toBe('0');
    expect(line).toMatch(/^tmpfs \/t tmpfs /);
    const full = h.docker([
      'run',
      '--name',
      'tsize',
      '--mount',
      'type=tmpfs,dst=/t,tmpfs-size=1m',
      'busybox',
      'sh',
      '-c',
      'grep " /t " /proc/mounts; dd if=/dev/zero of=/t/f bs=1024 count=2048',
    ]);
    expect(full.status).not.toBe(0);
    expect(full.stdout).toMatch(/size=1024k/);
    expect(full.stderr).toMatch(/No space left on device/);
    expect(mountsOf('tsize')).toEqual([{ Type: 'tmpfs', Source: '', Destination: '/t', Mode: '', RW: true, Propagation: '' }]);
    h.ok(['rm', 'tsize']);
    expect(h.ok(['run', '--rm', '--mount', 'type=tmpfs,dst=/t,tmpfs-mode=1770', 'busybox', 'stat', '-c', '%a', '/t'])).toBe('1770\n');
  });

  test('a tmpfs-typed local volume is mounted while used and unmounted after', () => {
    h.ok(['volume', 'create', '--opt', 'type=tmpfs', '--opt', 'device=tmpfs', '--opt', 'o=size=64m', 'tmpvol']);
    const v = JSON.parse(h.ok(['volume', 'inspect', 'tmpvol'])) as { Options: Record<string, string> }[];
    expect(v[0]!.Options).toEqual({ type: 'tmpfs', device: 'tmpfs', o: 'size=64m' });
    expect(h.ok(['run', '--rm', '-v', 'tmpvol:/d', 'busybox', 'grep', ' /d ', '/proc/mounts'])).toMatch(/^tmpfs \/d tmpfs .*size=65536k/);
    expect(mountsUnder(volumeDir('tmpvol'))).toEqual([]);
    // the same made on first use by --mount's volume options
    const out = h.ok([
      'run',
      '--rm',
      '--mount',
      'type=volume,src=mtmp,dst=/m,volume-driver=local,volume-opt=type=tmpfs,volume-opt=device=tmpfs,volume-opt=o=size=2m,volume-label=k=v',
      'busybox',
      'grep',
      ' /m ',
      '/proc/mounts',
    ]);
    expect(out).toMatch(/^tmpfs \/m tmpfs .*size=2048k/);
    const mv = JSON.parse(h.ok(['volume', 'inspect', 'mtmp'])) as { Labels: Record<string, string>; Options: Record<string, string> }[];
    expect(mv[0]).toMatchObject({ Labels: { k: 'v' }, Options: { type: 'tmpfs', device: 'tmpfs', o: 'size=2m' } });
    expect(mountsUnder(volumeDir('mtmp'))).toEqual([]);
  });

  test('a bind-typed local volume shows the host directory and unmounts after', () => {
    const src = join(h.dir, 'bindsrc');
    fs.mkdirSync(src);
    fs.writeFileSync(join(src, 'seed'), 'seed\n');
    h.ok(['volume', 'create', '--opt', 'type=none', '--opt', 'o=bind', '--opt', `device=${src}`, 'bindvol']);
    expect(h.ok(['run', '--rm', '-v', 'bindvol:/d', 'busybox', 'sh', '-c', 'cat /d/seed; echo back > /d/back'])).toBe('seed\n');
    expect(fs.readFileSync(join(src, 'back'), 'utf8')).toBe('back\n');
    expect(mountsUnder(volumeDir('bindvol'))).toEqual([]);
    expect(fs.readdirSync(volumeDir('bindvol'))).toEqual([]);
  });

  test('volume ls filters, rm, prune (anonymous by default, --all for named), system df', () => {
    h.ok(['volume', 'create', '--label', 'team=a', 'lbl1']);
    h.ok(['volume', 'create', '--label', 'team=b', 'lbl2']);
    expect(volumes('--filter', 'label=team=a')).toEqual(['lbl1']);
    expect(volumes('--filter', 'label=team')).toEqual(['lbl1', 'lbl2']);
    expect(volumes('--filter', 'name=lbl')).toEqual(['lbl1', 'lbl2']);
    h.ok(['create', '--name', 'holder', '-v', 'lbl2:/x', 'busybox', 'true']);
    expect(volumes('--filter', 'dangling=true', '--filter', 'name=lbl')).toEqual(['lbl1']);
    expect(volumes('--filter', 'dangling=false', '--filter', 'name=lbl')).toEqual(['lbl2']);
    expect(h.ok(['ps', '-a', '--filter', 'volume=lbl2', '--format', '{{.Names}}'])).toBe('holder\n');
    expect(h.ok(['ps', '-a', '--filter', 'volume=lbl1', '--format', '{{.Names}}'])).toBe('');
    // an anonymous volume left by a container removed without -v
    h.ok(['create', '--name', 'anonleft', '-v', '/scratch', 'busybox', 'true']);
    const anon = mountsOf('anonleft')[0]!.Name!;
    h.ok(['rm', 'anonleft']);
    expect(volumes()).toContain(anon);
    expect(h.ok(['volume', 'prune', '-f'])).toContain(anon);
    const left = volumes();
    expect(left).not.toContain(anon);
    expect(left).toEqual(expect.arrayContaining(['lbl1', 'lbl2']));
    expect(h.ok(['volume', 'prune', '-f', '--all', '--filter', 'label=team'])).toMatch(/Deleted Volumes:\nlbl1\n/);
    expect(volumes('--filter', 'name=lbl')).toEqual(['lbl2']);
    const df = JSON.parse(h.ok(['system', 'df', '-v', '--format', '{{json .Volumes}}'])) as { Name: string; Size: string; Links: string }[];
    expect(df.find((v) => v.Name === 'keep1')).toMatchObject({ Links: '0', Size: '6B' });
    expect(df.find((v) => v.Name === 'lbl2')).toMatchObject({ Links: '1', Size: '0B' });
    h.ok(['rm', 'holder']);
    expect(h.ok(['volume', 'rm', 'lbl2'])).toBe('lbl2\n');
  });

  test('docker rm -v removes the anonymous volumes only; a volume in use is refused', () => {
    h.ok(['volume', 'create', 'inuse']);
    const id = h.ok(['create', '--name', 'anonrm', '-v', '/a1', '-v', 'inuse:/n', 'busybox', 'true']).trim();
    const anon = mountsOf('anonrm').find((m) => m.Destination === '/a1')!;
    expect(anon).toMatchObject({ Type: 'volume', Driver: 'local', Mode: '', RW: true });
    expect(anon.Name).toMatch(/^[0-9a-f]{64}$/);
    const busy = h.docker(['volume', 'rm', 'inuse']);
    expect(busy.status).toBe(1);
    expect(busy.stderr).toBe(`Error response from daemon: remove inuse: volume is in use - [${id}]\n`);
    h.ok(['rm', '-v', 'anonrm']);
    expect(volumes()).not.toContain(anon.Name);
    expect(fs.existsSync(join(h.dir, 'data', 'volumes', anon.Name!))).toBe(false);
    expect(volumes()).toContain('inuse');
    // --rm takes its anonymous volumes with it too
    const before = volumes();
    h.ok(['run', '--rm', '-v', '/gone', 'busybox', 'true']);
    expect(volumes()).toEqual(before);
  });

  test('bad input gets Docker errors and leaves nothing behind', async () => {
    const containersBefore = h.ok(['ps', '-aq']);
    const volumesBefore = volumes();
    const slash = h.docker(['volume', 'create', 'foo/bar']);
    expect(slash.status).toBe(1);
    expect(slash.stderr).toBe(
      'Error response from daemon: create foo/bar: "foo/bar" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path\n',
    );
    const raw = await h.request('POST', '/volumes/create', JSON.stringify({ Name: 'a/b' }));
    expect(raw.status).toBe(400);
    expect(JSON.parse(raw.body)).toEqual({ message: expect.stringMatching(/^create a\/b: "a\/b" includes invalid characters/) });
    const missing = join(h.dir, 'does-not-exist');
    const bind = h.docker(['run', '--rm', '-v', 'shouldnotexist:/v', '--mount', `type=bind,src=${missing},dst=/x`, 'busybox', 'true']);
    expect(bind.status).toBe(125);
    expect(bind.stderr).toContain(`Error response from daemon: invalid mount config for type "bind": bind source path does not exist: ${missing}`);
    const badName = h.docker(['run', '--rm', '-v', 'ok-vol:/a', '-v', 'x/y:/b', 'busybox', 'true']);
    expect(badName.status).toBe(125);
    expect(badName.stderr).toContain('create x/y: "x/y" includes invalid characters for a local volume name');
    const unknown = h.docker(['volume', 'inspect', 'nosuchvol']);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toMatch(/no such volume|No such volume/);
    const raw404 = await h.request('GET', '/volumes/nosuchvol');
    expect([raw404.status, JSON.parse(raw404.body)]).toEqual([404, { message: 'get nosuchvol: no such volume' }]);
    const badOpt = h.docker(['volume', 'create', '--opt', 'bogus=1', 'optvol']);
    expect(badOpt.stderr).toBe('Error response from daemon: create optvol: invalid option: "bogus"\n');
    expect(h.ok(['ps', '-aq'])).toBe(containersBefore);
    expect(volumes()).toEqual(volumesBefore);
    expect(fs.existsSync(missing)).toBe(false);
  });

  test('a running container keeps its tmpfs volume across a gantryd restart; its exit unmounts it', async () => {
    h.ok(['volume', 'create', '--opt', 'type=tmpfs', '--opt', 'device=tmpfs', 'livevol']);
    h.ok(['run', '-d', '--name', 'live', '-v', 'livevol:/d', 'busybox', 'sh', '-c', 'echo alive > /d/f; exec sleep 300']);
    const file = join(volumeDir('livevol'), 'f');
    for (let i = 0; i < 200 && !fs.existsSync(file); i++) await new Promise((r) => setTimeout(r, 50));
    expect(fs.readFileSync(file, 'utf8')).toBe('alive\n');
    await h.stopDaemon('SIGTERM');
    await h.startDaemon();
    expect(h.ok(['inspect', '-f', '{{.State.Running}}', 'live'])).toBe('true\n');
    expect(mountsUnder(volumeDir('livevol'))).toEqual([volumeDir('livevol')]);
    expect(fs.readFileSync(file, 'utf8')).toBe('alive\n');
    h.ok(['stop', '-t', '1', 'live']);
    expect(mountsUnder(volumeDir('livevol'))).toEqual([]);
    h.ok(['rm', 'live']);
    h.ok(['volume', 'rm', 'livevol']);
  });

  test('nothing stays mounted under the test directory once everything is removed', async () => {
    h.ok(['volume', 'create', '--opt', 'type=tmpfs', '--opt', 'device=tmpfs', 'lastvol']);
    h.ok(['run', '-d', '--name', 'runner', '-v', 'lastvol:/d', '-v', 'anonlast:/e', 'busybox', 'sleep', '300']);
    expect(mountsUnder(volumeDir('lastvol'))).toEqual([volumeDir('lastvol')]);
    expect(h.docker(['volume', 'rm', 'lastvol']).status).toBe(1);
    h.ok(['rm', '-f', '-v', 'runner']);
    for (const id of h.ok(['ps', '-aq']).split('\n').filter(Boolean)) h.ok(['rm', '-f', '-v', id]);
    // before API 1.42, prune took named volumes too
    h.ok(['volume', 'create', 'oldapi']);
    const pruned = await h.request('POST', '/v1.41/volumes/prune');
    expect(pruned.status).toBe(200);
    expect((JSON.parse(pruned.body) as { VolumesDeleted: string[] }).VolumesDeleted).toContain('oldapi');
    h.ok(['volume', 'prune', '-af']);
    expect(volumes()).toEqual([]);
    expect(mountsUnder(h.dir)).toEqual([]);
  });
});
