/**
 * Flags → request bodies: `run`/`create` against the bodies docker 28's CLI sent for the same flags
 * (captured through a logging proxy in front of gantryd: test/fixtures/docker-create-bodies.json,
 * zero values dropped from both, as Go's zero values and absent fields mean the same to the
 * daemon), and `exec`/`update` bodies, detach keys, units and specs.
 */
import * as path from 'node:path';
import { createRequest, unsupportedOsFlags, type CreateOptions } from '../src/container/flags';
import { Command } from 'commander';
import { addCreateOptions } from '../src/container/flags';
import { DetachKeyDetector, parseDetachKeys } from '../src/container/detach-keys';
import { bytes, durationNs } from '../src/container/units';
import { publishedPorts, mountSpec } from '../src/container/specs';
import { execRequest } from '../src/commands/exec';
import { updateRequest } from '../src/commands/update';
import { runFailureStatus } from '../src/commands/run';
import { portLines } from '../src/commands/container-ops';
import { copiedLine, splitCpArg } from '../src/commands/cp';
import { withTag } from '../src/container/pull';
import { cpuPercent, memoryUsage } from '../src/container/stats-row';
import * as fs from 'node:fs';
import { addApiSocket, configTar } from '../src/container/api-socket';
import { csvFields, gpuRequest } from '../src/container/resource-specs';

interface Captured {
  args: string[];
  request: string;
  body: unknown;
  /** the socket docker's CLI talked to (for --use-api-socket) */
  host?: string;
}
const captured = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'docker-create-bodies.json'), 'utf8')) as Captured[];

const MAPS = new Set(['ExposedPorts', 'Volumes', 'Labels', 'Sysctls', 'Tmpfs', 'StorageOpt', 'Annotations']);

/** Drops zero values ("", null, false, 0, {}, [], [0,0]) except inside maps, as the fixture was made. */
function norm(v: unknown, isMap = false): unknown {
  if (Array.isArray(v)) return v.map((x) => norm(x));
  if (v === null || typeof v !== 'object' || isMap) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    const n = norm(x, MAPS.has(k));
    const zero =
      n === '' ||
      n === null ||
      n === undefined ||
      n === false ||
      n === 0 ||
      (Array.isArray(n) && (n.length === 0 || (n.length === 2 && n[0] === 0 && n[1] === 0))) ||
      (typeof n === 'object' && n !== null && !Array.isArray(n) && Object.keys(n).length === 0);
    if (!zero || k === 'StopTimeout') out[k] = n;
  }
  return out;
}

/** Parses `run`/`create` arguments as the command does, then builds the body. */
function bodyFor(args: string[], host = 'unix:///run/gantry/gantry.sock'): { body: unknown; name?: string } {
  const [verb, ...rest] = args;
  let result: { body: unknown; name?: string } | undefined;
  const cmd = addCreateOptions(
    new Command('x')
      .argument('<IMAGE>')
      .argument('[COMMAND...]')
      .passThroughOptions()
      .exitOverride()
      .configureOutput({ writeErr: () => undefined }),
  );
  if (verb === 'run') cmd.option('-d, --detach');
  cmd.action((image: string, cmdArgs: string[], o: CreateOptions & { detach?: boolean }) => {
    const r = createRequest(image, cmdArgs, o, {}, o.detach === true);
    if (o.useApiSocket === true) addApiSocket(r.body, host, {});
    result = { body: r.body, name: r.name };
  });
  cmd.parse(rest, { from: 'user' });
  if (result === undefined) throw new Error('no action');
  return result;
}

describe('run/create bodies are what docker sends', () => {
  const cwd = process.cwd();
  beforeAll(() => process.chdir(path.join(__dirname, 'fixtures')));
  afterAll(() => process.chdir(cwd));

  it.each(captured.map((c): [string, Captured] => [c.args.join(' '), c]))('%s', (_n: string, c: Captured) => {
    const r = bodyFor(c.args, c.host);
    expect(norm(r.body)).toEqual(c.body);
    expect(`/v1.45/containers/create?name=${r.name}`).toBe(c.request);
  });

  it('refuses what docker refuses (status 125)', () => {
    expect(() => bodyFor(['run', '--rm', '--restart', 'always', 'busybox'])).toThrow('conflicting options: cannot specify both --restart and --rm');
    expect(() => bodyFor(['run', '-d', '-a', 'stdout', 'busybox'])).toThrow('Conflicting options: -a and -d');
    expect(() => bodyFor(['run', '--restart', 'sometimes', 'busybox'])).toThrow("invalid restart policy 'sometimes'");
    expect(() => bodyFor(['run', '-p', '80:80:80:80', 'busybox'])).toThrow('invalid port format');
    expect(() => bodyFor(['run', '--no-healthcheck', '--health-cmd', 'true', 'busybox'])).toThrow('conflicts');
  });

  it('refuses bad device, rate, rule and GPU values in docker words', () => {
    const bad: [string[], string][] = [
      [['--blkio-weight-device', 'x'], 'bad format: x'],
      [['--blkio-weight-device', 'vda:20'], 'bad format for device path: vda:20'],
      [['--blkio-weight-device', '/dev/vda:5'], 'invalid weight for device: /dev/vda:5'],
      [['--blkio-weight-device', '/dev/vda:abc'], 'invalid weight for device: /dev/vda:abc'],
      [['--device-read-bps', '/dev/vda:xx'], 'invalid rate for device: /dev/vda:xx. The correct format is <device-path>:<number>[<unit>]'],
      [
        ['--device-write-iops', '/dev/vda:1k'],
        'invalid rate for device: /dev/vda:1k. The correct format is <device-path>:<number>. Number must be a positive integer',
      ],
      [['--device-cgroup-rule', 'bad'], "invalid device cgroup format 'bad'"],
      [['--blkio-weight', '70000'], 'strconv.ParseUint: parsing "70000": value out of range'],
      [['--io-maxiops', '-1'], 'strconv.ParseUint: parsing "-1": invalid syntax'],
      [['--gpus', 'foo=bar'], "unexpected key 'foo' in 'foo=bar'"],
      [['--gpus', 'count=2,count=3'], "gpu request key 'count' can be specified only once"],
      [['--gpus', 'x'], 'invalid count (x): value must be either "all" or an integer: invalid syntax'],
    ];
    for (const [flags, message] of bad) expect(() => bodyFor(['create', ...flags, 'busybox'])).toThrow(message);
  });

  it('--gpus forms docker accepts, --kernel-memory accepted and not sent', () => {
    expect(gpuRequest('2', undefined)).toEqual([{ Driver: '', Count: 2, Capabilities: [['gpu']], Options: {} }]);
    expect(gpuRequest('device=0,driver=nvidia,"options=a=b,c=d"', undefined)).toEqual([
      { Driver: 'nvidia', Count: 0, DeviceIDs: ['0'], Capabilities: [['gpu']], Options: { a: 'b', c: 'd' } },
    ]);
    expect(csvFields('"a,""b""",c')).toEqual(['a,"b"', 'c']);
    const hc = (bodyFor(['create', '--kernel-memory', '10m', 'busybox']).body as { HostConfig: Record<string, unknown> }).HostConfig;
    expect(hc).not.toHaveProperty('KernelMemory');
  });

  it('--use-api-socket: the socket mount, DOCKER_CONFIG with credentials, a TCP host refused', () => {
    const r = createRequest('busybox', [], { env: ['A=1'] }, {});
    addApiSocket(r.body, 'unix:///tmp/d.sock', { 'localhost:5000': { auth: 'dTpw' } });
    expect(r.body.Env).toEqual(['A=1', 'DOCKER_CONFIG=/run/secrets/docker']);
    expect(r.body.HostConfig?.Mounts).toEqual([{ Type: 'bind', Source: '/tmp/d.sock', Target: '/var/run/docker.sock', BindOptions: {} }]);
    expect(() => addApiSocket(r.body, 'tcp://127.0.0.1:2375', {})).toThrow(
      'flag --use-api-socket can only be used with unix sockets: docker endpoint tcp://127.0.0.1:2375 incompatible',
    );
  });

  it('Windows-only flags are refused for a Linux daemon, as docker lists them', () => {
    const o = { cpuPercent: 50, ioMaxiops: 3, cpuCount: 2 };
    expect(unsupportedOsFlags(o, 'linux')).toBe(
      [
        '"--cpu-count" is only supported on a Docker daemon running on windows, but the Docker daemon is running on linux',
        '"--cpu-percent" is only supported on a Docker daemon running on windows, but the Docker daemon is running on linux',
        '"--io-maxiops" is only supported on a Docker daemon running on windows, but the Docker daemon is running on linux',
      ].join('\n'),
    );
    expect(unsupportedOsFlags(o, 'windows')).toBeUndefined();
    expect(unsupportedOsFlags({ isolation: 'default' }, 'linux')).toBeUndefined();
  });

  it("--use-api-socket's config.json tar is the one docker sends", () => {
    const tar = configTar({ 'localhost:5000': { auth: 'dTpw' } });
    const text = '{\n\t"auths": {\n\t\t"localhost:5000": {\n\t\t\t"auth": "dTpw"\n\t\t}\n\t}\n}';
    expect(tar.length).toBe(512 + 512 + 1024);
    expect(tar.subarray(0, 100).toString().replace(/\0+$/, '')).toBe('/run/secrets/docker/config.json');
    expect(tar.subarray(100, 148).toString()).toBe('0000600\x000000000\x000000000\x0000000000076\x0000000000000\x00');
    expect(tar.subarray(512, 512 + text.length).toString()).toBe(text);
  });

  it('flags after the image are the container command', () => {
    expect(norm(bodyFor(['run', 'busybox', 'ls', '-l', '--rm']).body)).toMatchObject({ Cmd: ['ls', '-l', '--rm'] });
  });
});

describe('exec and update bodies', () => {
  it('exec: attach flags follow -i and -d', () => {
    expect(execRequest(['sh'], { interactive: true, tty: true, env: ['A=1'], user: 'u', workdir: '/w' }, {}, [24, 80])).toEqual({
      User: 'u',
      Privileged: false,
      Tty: true,
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      DetachKeys: '',
      Env: ['A=1'],
      WorkingDir: '/w',
      Cmd: ['sh'],
      ConsoleSize: [24, 80],
    });
    expect(execRequest(['true'], { detach: true, interactive: true }, {})).toMatchObject({ AttachStdin: false, AttachStdout: false, AttachStderr: false });
  });

  it('update sends only what was given', () => {
    expect(updateRequest({ memory: bytes('100m'), restart: 'on-failure:2' })).toEqual({
      Memory: 104857600,
      RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 2 },
    });
  });
});

describe('detach keys', () => {
  it('parses docker spellings', () => {
    expect([...parseDetachKeys('ctrl-p,ctrl-q')]).toEqual([16, 17]);
    expect([...parseDetachKeys('ctrl-a,x,ctrl-@,ctrl-\\')]).toEqual([1, 120, 0, 28]);
    expect(() => parseDetachKeys('ctrl-pp')).toThrow('Unknown character');
  });

  it('holds a partial sequence, sends it on when broken, detaches when complete (across chunks)', () => {
    const d = new DetachKeyDetector(parseDetachKeys('ctrl-p,ctrl-q'));
    expect(d.feed(Buffer.from('ab\x10'))).toEqual({ forward: Buffer.from('ab'), detached: false });
    expect(d.feed(Buffer.from('c'))).toEqual({ forward: Buffer.from('\x10c'), detached: false });
    expect(d.feed(Buffer.from('\x10\x10'))).toEqual({ forward: Buffer.from('\x10'), detached: false });
    expect(d.feed(Buffer.from('\x11rest'))).toEqual({ forward: Buffer.alloc(0), detached: true });
  });
});

describe('values', () => {
  it('sizes and durations', () => {
    expect(bytes('64m')).toBe(64 * 1024 * 1024);
    expect(bytes('1.5g')).toBe(1610612736);
    expect(bytes('100')).toBe(100);
    expect(() => bytes('12q')).toThrow('invalid size');
    expect(durationNs('1m30s')).toBe(90e9);
    expect(durationNs('500ms')).toBe(5e8);
    expect(() => durationNs('5')).toThrow('invalid duration');
  });

  it('ports and mounts', () => {
    expect(publishedPorts('8000-8001:80-81/udp')).toEqual([
      ['80/udp', { HostIp: '', HostPort: '8000' }],
      ['81/udp', { HostIp: '', HostPort: '8001' }],
    ]);
    expect(publishedPorts('[::1]::53')).toEqual([['53/tcp', { HostIp: '::1', HostPort: '' }]]);
    expect(mountSpec('type=bind,src=/a,dst=/b,ro=false')).toEqual({ Type: 'bind', Source: '/a', Target: '/b', ReadOnly: false });
    expect(() => mountSpec('type=bind,src=/a')).toThrow('target is required');
  });

  it('start failures: 127 missing command, 126 not executable, else 125', () => {
    expect(runFailureStatus('exec: "nosuchcmd": executable file not found in $PATH')).toBe(127);
    expect(runFailureStatus('exec: "/etc/passwd": permission denied')).toBe(126);
    expect(runFailureStatus('No such image: x')).toBe(125);
  });

  it('port lines as docker prints them', () => {
    const ports = {
      '80/tcp': [
        { HostIp: '0.0.0.0', HostPort: '8080' },
        { HostIp: '::', HostPort: '8080' },
      ],
      '53/udp': [{ HostIp: '127.0.0.1', HostPort: '5353' }],
      '90/tcp': null,
    };
    expect(portLines(ports)).toEqual(['53/udp -> 127.0.0.1:5353', '80/tcp -> 0.0.0.0:8080', '80/tcp -> [::]:8080']);
    expect(portLines(ports, '80')).toEqual(['0.0.0.0:8080', '[::]:8080']);
    expect(() => portLines(ports, '81')).toThrow("No public port '81/tcp'");
  });

  it('cp arguments', () => {
    expect(splitCpArg('c1:/etc')).toEqual({ container: 'c1', path: '/etc' });
    expect(splitCpArg('./a:b')).toEqual({ path: './a:b' });
    expect(splitCpArg('-')).toEqual({ path: '-' });
    // docker's closing line: the tar's size with three significant digits
    expect(copiedLine(3072, 'c1:/tmp/x')).toBe('Successfully copied 3.07kB to c1:/tmp/x\n');
    expect(copiedLine(0, 'c1:/tmp/')).toBe('Successfully copied 0B to c1:/tmp/\n');
    expect(copiedLine(3001856, '/tmp/big')).toBe('Successfully copied 3MB to /tmp/big\n');
  });
});

describe('pull lines and stats columns', () => {
  it('names the image as docker does', () => {
    expect(withTag('busybox')).toBe('busybox:latest');
    expect(withTag('reg:5000/a/b')).toBe('reg:5000/a/b:latest');
    expect(withTag('a@sha256:00')).toBe('a@sha256:00');
  });

  it('CPU % from two readings, memory without the inactive page cache', () => {
    const s = {
      read: '',
      preread: '',
      num_procs: 0,
      pids_stats: {},
      cpu_stats: { cpu_usage: { total_usage: 3e9, usage_in_kernelmode: 0, usage_in_usermode: 0 }, system_cpu_usage: 20e9, online_cpus: 2 },
      precpu_stats: { cpu_usage: { total_usage: 2e9, usage_in_kernelmode: 0, usage_in_usermode: 0 }, system_cpu_usage: 10e9 },
      memory_stats: { usage: 1000, limit: 4000, stats: { inactive_file: 200 } },
      blkio_stats: {},
    };
    expect(cpuPercent(s)).toBeCloseTo(20);
    expect(memoryUsage(s)).toBe(800);
  });
});
