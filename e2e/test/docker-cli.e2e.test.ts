/**
 * More of the docker CLI (28.x) against gantryd: import, ps filters and formats, logs follow and
 * time windows, save/load, tag, rmi, events, system df, prunes, inspect fields.
 */
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { type GantrydHarness, sharedGantryd } from '../src/gantryd';

describe('docker CLI coverage against gantryd', () => {
  let h: GantrydHarness;
  let rootfsTar: string;

  beforeAll(async () => {
    h = await sharedGantryd();
    // a plain rootfs tarball for docker import: the busybox image's filesystem, exported by tar
    const bundle = join(h.dir, 'imp');
    const made = spawnSync('bash', [join(__dirname, '..', '..', 'tools', 'make-busybox-bundle.sh'), bundle, '--args', 'sh'], { encoding: 'utf8' });
    if (made.status !== 0) throw new Error(made.stderr);
    rootfsTar = join(h.dir, 'rootfs.tar');
    const t = spawnSync('tar', ['-C', join(bundle, 'rootfs'), '-cf', rootfsTar, '.'], { encoding: 'utf8' });
    if (t.status !== 0) throw new Error(t.stderr);
  }, 120000);

  afterAll(async () => {
    await h?.stop();
  }, 60000);

  it('docker import of a rootfs tarball, then runs it', () => {
    const id = h.ok(['import', '--change', 'ENV IMPORTED=yes', rootfsTar, 'imported:v1']).trim();
    expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(h.ok(['run', '--rm', 'imported:v1', '/bin/sh', '-c', 'echo run-$IMPORTED'])).toBe('run-yes\n');
    // a --rm container whose command does not exist fails (127) and is removed
    const bad = h.docker(['run', '--rm', 'imported:v1', '/no/such/cmd'], undefined, 30000);
    expect(bad.status).toBe(127);
    expect(h.ok(['ps', '-aq', '--filter', 'ancestor=imported:v1'])).toBe('');
  });

  it('ps -a / -q / --filter status, label, ancestor / --format', () => {
    const up = h.ok(['run', '-d', '--name', 'ps-up', '--label', 'tier=web', 'busybox', 'sleep', '1000']).trim();
    h.ok(['run', '--name', 'ps-done', '--label', 'tier=batch', 'busybox', 'true']);
    expect(h.ok(['ps', '--format', '{{.Names}}']).split('\n')).toContain('ps-up');
    expect(h.ok(['ps', '--format', '{{.Names}}']).split('\n')).not.toContain('ps-done');
    expect(h.ok(['ps', '-a', '--format', '{{.Names}}']).split('\n')).toEqual(expect.arrayContaining(['ps-up', 'ps-done']));
    expect(h.ok(['ps', '-q', '--no-trunc', '--filter', 'name=ps-up']).trim()).toBe(up);
    expect(h.ok(['ps', '-a', '--filter', 'status=exited', '--format', '{{.Names}}']).split('\n').filter(Boolean)).toEqual(['ps-done']);
    expect(h.ok(['ps', '-a', '--filter', 'label=tier=web', '--format', '{{.Names}}']).trim()).toBe('ps-up');
    expect(h.ok(['ps', '-a', '--filter', 'ancestor=busybox', '--format', '{{.Names}}']).split('\n')).toEqual(expect.arrayContaining(['ps-up', 'ps-done']));
    expect(h.ok(['ps', '-a', '--filter', 'name=ps-done', '--format', '{{.Image}}|{{.Command}}|{{.Label "tier"}}']).trim()).toBe('busybox|"true"|batch');
    h.ok(['rm', '-f', 'ps-up', 'ps-done']);
  });

  it('logs -f follows new lines and ends when the container exits', async () => {
    h.ok(['run', '-d', '--name', 'follow', 'busybox', 'sh', '-c', 'for i in 1 2 3 4; do echo tick$i; sleep 1; done']);
    const child = spawn('docker', ['logs', '-f', 'follow'], { env: h.env() });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 30000);
      child.on('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    expect(code).toBe(0);
    expect(out).toBe('tick1\ntick2\ntick3\ntick4\n');
  }, 40000);

  it('logs --since / --until select by time', async () => {
    h.ok(['run', '-d', '--name', 'timed', 'busybox', 'sh', '-c', 'echo early; sleep 3; echo late']);
    h.ok(['wait', 'timed']);
    const stamped = h.ok(['logs', '--timestamps', 'timed']).trim().split('\n');
    expect(stamped).toHaveLength(2);
    const lateAt = Date.parse(stamped[1]!.split(' ')[0]!);
    const cut = new Date(lateAt - 1000).toISOString();
    expect(h.ok(['logs', '--since', cut, 'timed'])).toBe('late\n');
    expect(h.ok(['logs', '--until', cut, 'timed'])).toBe('early\n');
    h.ok(['rm', 'timed']);
  });

  it('save / load round trip, tag, rmi (in use: 409, -f)', () => {
    h.ok(['tag', 'busybox', 'copy:one']);
    expect(h.ok(['images', '--format', '{{.Repository}}:{{.Tag}}']).split('\n')).toEqual(expect.arrayContaining(['busybox:latest', 'copy:one']));
    const archive = join(h.dir, 'saved.tar');
    h.ok(['save', '-o', archive, 'copy:one']);
    expect(h.ok(['rmi', 'copy:one'])).toContain('Untagged: copy:one');
    expect(h.ok(['load', '-i', archive])).toContain('Loaded image: copy:one');
    expect(h.ok(['run', '--rm', 'copy:one', 'echo', 'loaded'])).toBe('loaded\n');

    h.ok(['import', rootfsTar, 'lonely:1']);
    h.ok(['create', '--name', 'user', 'lonely:1', '/bin/true']);
    const refused = h.docker(['rmi', 'lonely:1']);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/conflict|being used|is using/);
    const refusedHttp = spawnSync(
      'curl',
      ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--unix-socket', h.sock, '-X', 'DELETE', 'http://x/v1.45/images/lonely:1'],
      { encoding: 'utf8' },
    );
    expect(refusedHttp.stdout).toBe('409');
    expect(h.ok(['rmi', '-f', 'lonely:1'])).toContain('Untagged: lonely:1');
    h.ok(['rm', 'user']);
  });

  it('events --since/--until --filter shows create, start, die, destroy', () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    h.ok(['run', '--rm', '--name', 'evented', 'busybox', 'true']);
    const until = Math.floor(Date.now() / 1000) + 1;
    const seen = h
      .ok([
        'events',
        '--since',
        String(since),
        '--until',
        String(until),
        '--filter',
        'container=evented',
        '--filter',
        'type=container',
        '--format',
        '{{.Action}}',
      ])
      .trim()
      .split('\n');
    expect(seen).toEqual(expect.arrayContaining(['create', 'start', 'die', 'destroy']));
    expect(seen.indexOf('create')).toBeLessThan(seen.indexOf('destroy'));
    const onlyDie = h
      .ok(['events', '--since', String(since), '--until', String(until), '--filter', 'event=die', '--format', '{{.Action}} {{.Actor.Attributes.name}}'])
      .trim();
    expect(onlyDie.split('\n')).toContain('die evented');
    expect(onlyDie).not.toContain('start');
  });

  it('system df, container prune, image prune', () => {
    h.ok(['run', '--name', 'prunable', 'busybox', 'true']);
    const df = h.ok(['system', 'df', '--format', '{{.Type}} {{.TotalCount}}']);
    expect(df).toMatch(/^Images \d+$/m);
    expect(df).toMatch(/^Containers [1-9]\d*$/m);
    const pruned = h.ok(['container', 'prune', '-f']);
    expect(pruned).toContain('Deleted Containers:');
    expect(h.ok(['ps', '-aq', '--filter', 'name=prunable'])).toBe('');
    h.ok(['import', rootfsTar]); // dangling: no name
    expect(h.ok(['images', '-q', '--filter', 'dangling=true']).trim()).not.toBe('');
    h.ok(['image', 'prune', '-f']);
    expect(h.ok(['images', '-q', '--filter', 'dangling=true']).trim()).toBe('');
  });

  it('inspect shows State, Config.Env, HostConfig.Memory, Mounts', async () => {
    const vol = join(h.dir, 'bindsrc');
    spawnSync('mkdir', ['-p', vol]);
    h.ok(['run', '-d', '--name', 'insp', '-e', 'FOO=bar', '-m', '64m', '-v', `${vol}:/data:ro`, 'busybox', 'sleep', '1000']);
    const c = JSON.parse(h.ok(['inspect', 'insp']))[0] as {
      State: { Status: string; Running: boolean; Pid: number };
      Config: { Env: string[] };
      HostConfig: { Memory: number };
      Mounts: { Type: string; Source: string; Destination: string; RW: boolean }[];
    };
    expect(c.State).toMatchObject({ Status: 'running', Running: true });
    expect(c.State.Pid).toBeGreaterThan(0);
    expect(c.Config.Env).toContain('FOO=bar');
    expect(c.HostConfig.Memory).toBe(64 * 1024 * 1024);
    expect(c.Mounts).toEqual([expect.objectContaining({ Type: 'bind', Source: vol, Destination: '/data', RW: false })]);
    expect(h.ok(['inspect', '--format', '{{.State.Status}} {{.HostConfig.Memory}}', 'insp']).trim()).toBe(`running ${64 * 1024 * 1024}`);
    h.ok(['rm', '-f', 'insp']);
  });
});
