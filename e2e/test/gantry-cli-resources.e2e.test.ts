/**
 * gantry's block-I/O, device-cgroup, GPU, Windows-only and `--use-api-socket` flags of run/create
 * beside the docker CLI (28.x), both against one gantryd: inspect of what each created, the
 * container's own view of its cgroups, errors word for word; and `stats` following containers that
 * start and die after it began.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '@gantry/testkit';
import { type CliResult, type GantrydHarness, sharedGantryd } from '../src/gantryd';

const GANTRY = join(__dirname, '..', '..', 'bin', 'gantry');

describe('gantry run/create resource flags beside the docker CLI', () => {
  let h: GantrydHarness;
  let dir: string;
  let blockDevice: string;
  const tag = `gres${process.pid}`;
  const made: string[] = [];

  beforeAll(async () => {
    h = await sharedGantryd();
    dir = fs.mkdtempSync('/tmp/gcli-res-');
    // a block device this machine has (the throttles name one by path; the kernel keys them by major:minor)
    blockDevice = ['/dev/vda', '/dev/sda', '/dev/nvme0n1', '/dev/xvda'].find((d) => fs.existsSync(d)) ?? '/dev/loop0';
  }, 120000);

  afterAll(async () => {
    if (made.length > 0) h?.docker(['rm', '-f', ...made]);
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
    await h?.stop();
  }, 60000);

  function run(bin: string, args: string[], env: NodeJS.ProcessEnv = h.env()): CliResult {
    const r = spawnSync(bin, args, { encoding: 'utf8', timeout: 60000, killSignal: 'SIGKILL', env });
    return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  }

  /** The same command line through both CLIs (`NAME` replaced by a name of each's own). */
  function both(args: string[], env?: NodeJS.ProcessEnv): { d: CliResult; g: CliResult } {
    const sub = (who: string) => args.map((a) => a.replace('NAME', `${tag}-${who}`));
    made.push(`${tag}-d`, `${tag}-g`);
    return { d: run('docker', sub('d'), env), g: run(GANTRY, sub('g'), env) };
  }

  /** Same status, stdout, and stderr with docker's name for itself replaced. */
  function sameOutput(r: { d: CliResult; g: CliResult }): void {
    expect({ status: r.g.status, stdout: r.g.stdout, stderr: r.g.stderr }).toEqual({
      status: r.d.status,
      stdout: r.d.stdout,
      stderr: r.d.stderr.replace(/docker (run|create)/g, 'gantry $1').replace(/^docker:/gm, 'gantry:'),
    });
  }

  it('create: inspect shows the same block-I/O, realtime, device-rule and isolation settings', () => {
    const dev = blockDevice;
    const flags = [
      '--blkio-weight',
      '300',
      '--blkio-weight-device',
      `${dev}:200`,
      '--device-read-bps',
      `${dev}:1mb`,
      '--device-write-bps',
      `${dev}:2mb`,
      '--device-read-iops',
      `${dev}:100`,
      '--device-write-iops',
      `${dev}:200`,
      '--cpu-rt-period',
      '1000',
      '--cpu-rt-runtime',
      '500',
      '--device-cgroup-rule',
      'c 1:3 rwm',
      '--kernel-memory',
      '10m',
      '--link-local-ip',
      '169.254.1.1',
      '--isolation',
      'default',
      '--disable-content-trust',
    ];
    const r = both(['create', '--name', 'NAME', ...flags, 'busybox']);
    expect([r.g.status, r.d.status]).toEqual([0, 0]);
    const fields =
      '{{.HostConfig.BlkioWeight}} {{json .HostConfig.BlkioWeightDevice}} {{json .HostConfig.BlkioDeviceReadBps}} {{json .HostConfig.BlkioDeviceWriteBps}} {{json .HostConfig.BlkioDeviceReadIOps}} {{json .HostConfig.BlkioDeviceWriteIOps}} {{.HostConfig.CpuRealtimePeriod}} {{.HostConfig.CpuRealtimeRuntime}} {{json .HostConfig.DeviceCgroupRules}} {{.HostConfig.Isolation}} {{json .HostConfig.DeviceRequests}}';
    const g = h.ok(['inspect', '-f', fields, `${tag}-g`]);
    expect(g).toBe(h.ok(['inspect', '-f', fields, `${tag}-d`]));
    expect(g).toContain('"c 1:3 rwm"');
    expect(g).toContain('{"Path":"' + dev + '","Rate":1048576}');
    h.docker(['rm', '-f', `${tag}-d`, `${tag}-g`]);
  }, 120000);

  it('run: the throttles and the device rule reach the container as docker sets them', () => {
    const dev = blockDevice;
    const script =
      'cat /sys/fs/cgroup/blkio/blkio.throttle.read_bps_device /sys/fs/cgroup/blkio/blkio.throttle.write_iops_device 2>/dev/null || cat /sys/fs/cgroup/io.max; grep -c "c 1:3 rwm" /sys/fs/cgroup/devices/devices.list 2>/dev/null || true';
    const r = both([
      'run',
      '--rm',
      '--device-read-bps',
      `${dev}:1mb`,
      '--device-write-iops',
      `${dev}:50`,
      '--device-cgroup-rule',
      'c 1:3 rwm',
      'busybox',
      'sh',
      '-c',
      script,
    ]);
    sameOutput(r);
    expect(r.g.status).toBe(0);
    expect(r.g.stdout).toMatch(/1048576/);
  }, 120000);

  it('errors as docker words them: bad values, Windows-only flags, --gpus, a TCP host with --use-api-socket', () => {
    for (const flags of [
      ['--blkio-weight-device', 'x'],
      ['--blkio-weight-device', 'vda:20'],
      ['--device-read-bps', `${blockDevice}:xx`],
      ['--device-write-iops', `${blockDevice}:1k`],
      ['--device-cgroup-rule', 'bad'],
      ['--gpus', 'foo=bar'],
      ['--cpu-count', '2', '--io-maxiops', '3'],
      ['--gpus', 'all'],
    ]) {
      const r = both(['run', '--rm', ...flags, 'busybox', 'true']);
      sameOutput(r);
      expect(r.g.status).not.toBe(0);
    }
    const tcp = { ...h.env(), DOCKER_HOST: 'tcp://127.0.0.1:1' };
    sameOutput(both(['run', '--use-api-socket', 'busybox'], tcp));
    sameOutput(both(['create', '--use-api-socket', 'busybox'], tcp));
  }, 120000);

  it('run -d prints the ID even when the start fails (docker 28)', () => {
    const r = both(['run', '-d', '--name', 'NAME', 'busybox', 'nosuchcmd']);
    expect([r.g.status, /^[0-9a-f]{64}\n$/.test(r.g.stdout)]).toEqual([r.d.status, /^[0-9a-f]{64}\n$/.test(r.d.stdout)]);
    expect(r.g.status).not.toBe(0);
    h.docker(['rm', '-f', `${tag}-d`, `${tag}-g`]);
  }, 120000);

  it('--use-api-socket: the daemon socket inside, the credentials copied in as docker copies them', () => {
    const cfg = join(dir, 'cfg');
    fs.mkdirSync(cfg, { recursive: true });
    fs.writeFileSync(join(cfg, 'config.json'), JSON.stringify({ auths: { 'localhost:5999': { auth: Buffer.from('u:p').toString('base64') } } }));
    const env = { ...h.env(), DOCKER_CONFIG: cfg };
    const script = 'test -S /var/run/docker.sock && echo socket; echo $DOCKER_CONFIG; cat /run/secrets/docker/config.json; echo; ls -ln /run/secrets/docker';
    const r = both(['run', '--rm', '--use-api-socket', 'busybox', 'sh', '-c', script], env);
    sameOutput(r);
    expect(r.g.stdout).toContain('socket\n/run/secrets/docker\n{\n\t"auths": {\n\t\t"localhost:5999": {');
    expect(r.g.stdout).toMatch(/-rw------- +1 0 +0 .* config\.json/);
    // without credentials: the socket, no DOCKER_CONFIG
    fs.rmSync(join(cfg, 'config.json'));
    sameOutput(both(['run', '--rm', '--use-api-socket', 'busybox', 'sh', '-c', 'test -S /var/run/docker.sock && echo "socket [$DOCKER_CONFIG]"'], env));
  }, 120000);

  it('stats without names follows containers that start and die after it began; --no-stream lists what docker lists', async () => {
    const listed = (r: CliResult): string => r.stdout.split('\n').sort().join('\n');
    expect(listed(run(GANTRY, ['stats', '--no-stream', '--format', 'table {{.Name}}']))).toBe(
      listed(run('docker', ['stats', '--no-stream', '--format', 'table {{.Name}}'])),
    );
    const name = `${tag}-st`;
    const keep = `${tag}-keep`;
    made.push(name, keep);
    // a container running throughout: its row in every frame marks the frames
    expect(run(GANTRY, ['run', '-d', '--name', keep, 'busybox', 'sleep', '300']).status).toBe(0);
    const child = spawn(GANTRY, ['stats', '--format', '{{.Name}}'], { env: h.env(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    /** How many frames (rows of `keep`) were drawn after the last row of `name`. */
    const framesWithout = (): number =>
      out
        .slice(out.lastIndexOf(name) + 1)
        .split('\n')
        .filter((l) => l === keep).length;
    try {
      await waitFor('a first stats frame', () => out.includes(keep), 30000);
      expect(out).not.toContain(name);
      expect(run(GANTRY, ['run', '-d', '--name', name, 'busybox', 'sleep', '300']).status).toBe(0);
      await waitFor('a row for the container started after stats began', () => out.includes(name), 30000);
      expect(run(GANTRY, ['stop', '-t', '0', name]).status).toBe(0);
      await waitFor('frames without the container that died', () => framesWithout() >= 2, 30000);
    } finally {
      child.kill('SIGINT');
    }
  }, 120000);
});
