/**
 * Host resources through the docker CLI against gantryd: `--device` (a node, a directory of nodes,
 * cgroup permissions), per-device blkio limits in the container's cgroup, the refusals dockerd
 * gives (a path that is no device, `--gpus` without a driver), and the cgroup namespace default
 * (the host's on cgroup v1, a private one on v2, as dockerd). A privileged container's host /dev
 * is in the engine's unit tests: this machine's capability bounding set lacks CAP_SYS_RESOURCE, so
 * `--privileged` cannot start here with gantryd or dockerd (runtime-errors.e2e.test.ts).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { type GantrydHarness, sharedGantryd } from '../src/gantryd';
import { cgroupFile } from '../src/cgroups';

/** A block device of this machine with a driver behind it (vda, sda, nvme0n1): blkio limits need a real queue. */
function physicalDisk(): { name: string; major: number; minor: number } {
  const name = fs.readdirSync('/sys/block').find((n) => fs.existsSync(`/sys/block/${n}/device`) && fs.existsSync(`/dev/${n}`));
  if (name === undefined) throw new Error('no block device with a driver in /sys/block');
  const [major, minor] = fs.readFileSync(`/sys/block/${name}/dev`, 'utf8').trim().split(':').map(Number);
  return { name, major: major!, minor: minor! };
}

describe('host devices and cgroups with the docker CLI', () => {
  let g: GantrydHarness;
  let scratch: string;
  const made: string[] = [];

  beforeAll(async () => {
    g = await sharedGantryd();
    scratch = fs.mkdtempSync(join(os.tmpdir(), 'gantry-devices-'));
  }, 60000);

  afterAll(async () => {
    if (made.length > 0) g?.docker(['rm', '-f', ...made]);
    fs.rmSync(scratch, { recursive: true, force: true });
    await g?.stop();
  }, 60000);

  it('--device maps a node at another path, usable in the container', () => {
    const out = g.ok([
      'run',
      '--rm',
      '--device',
      '/dev/null:/dev/mynull',
      'busybox',
      'sh',
      '-c',
      "stat -c '%t:%T %a %F' /dev/mynull && echo hi > /dev/mynull && echo wrote",
    ]);
    expect(out).toBe('1:3 666 character special file\nwrote\n');
  });

  it('--device permissions are what the device cgroup allows: r cannot write, rw can', () => {
    // /dev/kmsg (1:11) is outside Docker's default device rules; a line written there is only a kernel log line
    const write = (perms: string) =>
      g.docker(['run', '--rm', '--device', `/dev/kmsg:/dev/k:${perms}`, 'busybox', 'sh', '-c', 'echo gantry-e2e-device-test > /dev/k && echo wrote']);
    const ro = write('r');
    expect(ro.stdout).toBe('');
    expect(ro.stderr).toMatch(/Operation not permitted/);
    expect(write('rw')).toMatchObject({ status: 0, stdout: 'wrote\n' });
  });

  it('--device naming a directory maps every node under it', () => {
    const dir = join(scratch, 'devdir');
    fs.mkdirSync(join(dir, 'sub'), { recursive: true });
    for (const [p, mm] of [
      ['null', ['1', '3']],
      ['sub/zero', ['1', '5']],
    ] as const) {
      const r = spawnSync('mknod', ['-m', '0666', join(dir, p), 'c', ...mm], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
    }
    fs.writeFileSync(join(dir, 'not-a-device'), 'x');
    const out = g.ok(['run', '--rm', '--device', `${dir}:/dev/mine`, 'busybox', 'sh', '-c', "find /dev/mine | sort; stat -c '%t:%T' /dev/mine/sub/zero"]);
    expect(out).toBe('/dev/mine\n/dev/mine/null\n/dev/mine/sub\n/dev/mine/sub/zero\n1:5\n');
  });

  it('per-device blkio throttles land in the container cgroup, keyed by major:minor', () => {
    const disk = physicalDisk();
    const dev = `/dev/${disk.name}`;
    made.push('blk');
    g.ok(['run', '-d', '--name', 'blk', '--device-write-bps', `${dev}:1mb`, '--device-read-iops', `${dev}:100`, 'busybox', 'sleep', '300']);
    const pid = Number(g.ok(['inspect', '-f', '{{.State.Pid}}', 'blk']).trim());
    const read = (v1File: string) => fs.readFileSync(cgroupFile(pid, 'blkio', v1File, 'io.max'), 'utf8');
    if (fs.existsSync('/sys/fs/cgroup/blkio')) {
      expect(read('blkio.throttle.write_bps_device').trim()).toBe(`${disk.major}:${disk.minor} 1048576`);
      expect(read('blkio.throttle.read_iops_device').trim()).toBe(`${disk.major}:${disk.minor} 100`);
    } else {
      expect(read('io.max')).toMatch(new RegExp(`^${disk.major}:${disk.minor} .*wbps=1048576 .*riops=100`, 'm'));
    }
    expect(JSON.parse(g.ok(['inspect', '-f', '{{json .HostConfig.BlkioDeviceWriteBps}}', 'blk']))).toEqual([{ Path: dev, Rate: 1048576 }]);
    g.ok(['rm', '-f', 'blk']);
    made.pop();
  });

  it("the cgroup namespace: the host's on cgroup v1, a private one on v2 (dockerd's defaults); --cgroupns overrides", () => {
    const v2 = fs.existsSync('/sys/fs/cgroup/cgroup.controllers');
    const host = fs.readlinkSync('/proc/self/ns/cgroup');
    const ns = (...flags: string[]) => g.ok(['run', '--rm', ...flags, 'busybox', 'readlink', '/proc/self/ns/cgroup']).trim();
    expect(ns() === host).toBe(!v2);
    expect(ns('--cgroupns', 'private')).not.toBe(host);
    expect(ns('--cgroupns', 'host')).toBe(host);
    // either way the container's own cgroup is what it sees at /sys/fs/cgroup (read-only)
    for (const mode of ['host', 'private']) {
      const file = v2 ? '/sys/fs/cgroup/memory.max' : '/sys/fs/cgroup/memory/memory.limit_in_bytes';
      const r = g.docker(['run', '--rm', '-m', '64m', '--cgroupns', mode, 'busybox', 'sh', '-c', `cat ${file}; touch /sys/fs/cgroup/x`]);
      expect({ mode, out: r.stdout, err: r.stderr.trim() }).toEqual({ mode, out: '67108864\n', err: 'touch: /sys/fs/cgroup/x: Read-only file system' });
    }
    made.push('cgns');
    g.ok(['create', '--name', 'cgns', 'busybox']);
    expect(g.ok(['inspect', '-f', '{{.HostConfig.CgroupnsMode}}', 'cgns'])).toBe(v2 ? 'private\n' : 'host\n');
    g.ok(['rm', 'cgns']);
    made.pop();
  });

  it('refuses as dockerd: a path that is no device, --gpus without a driver', () => {
    const refused = (args: string[], status: number, says: string) =>
      expect(g.docker(['run', '--rm', ...args, 'busybox', 'true'])).toMatchObject({ status, stderr: expect.stringContaining(says) as string });
    // 127: the docker CLI's status for any run error that says "no such file or directory" (dockerd's too)
    refused(
      ['--device', '/dev/no-such-device'],
      127,
      'error gathering device information while adding custom device "/dev/no-such-device": no such file or directory',
    );
    refused(['--gpus', 'all'], 125, 'could not select device driver "" with capabilities: [[gpu]]');
    refused(['--device', '/etc/hostname'], 125, 'error gathering device information while adding custom device "/etc/hostname": not a device node');
    // nothing was left behind by the refusals
    expect(g.ok(['ps', '-aq', '--filter', 'ancestor=busybox', '--filter', 'status=created'])).toBe('');
  });
});
