/**
 * gantryd's inspect and list answers carry every key dockerd's do: the same container (and its
 * volume, image, network, exec) made on a private dockerd and on gantryd, each answer's key paths
 * compared recursively (src/key-diff.ts). Only keys missing from gantryd fail; values differ.
 *
 * dockerd here is Debian's 20.10 (API 1.41); gantryd reports a newer API, so the few fields removed
 * from the API since 1.41 are listed in REMOVED_SINCE_1_41 with the version that removed them.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describeIf, needRoot, needTool } from '@gantry/testkit';
import { TestDockerd } from '../src/dockerd';
import { GantrydHarness } from '../src/gantryd';
import { unixRequest } from '../src/http';
import { missingKeys, pathMatches, type JsonValue } from '../src/key-diff';
import { bundleTool } from '../src/paths';

const IMAGE = 'busybox:latest';

/** Objects whose keys are data, not structure (names, labels, ports, driver-specific options). */
const DATA_MAPS = [
  'Config.Labels',
  'Config.Volumes',
  'Config.ExposedPorts',
  'ContainerConfig.Labels',
  'ContainerConfig.Volumes',
  'HostConfig.LogConfig.Config',
  'HostConfig.PortBindings',
  'NetworkSettings.Ports',
  'GraphDriver.Data',
  'Labels',
  'Options',
  'Containers',
  '[].Labels',
  'Status',
  'Plugins',
  'Runtimes',
  'RegistryConfig',
  'Components.[].Details',
  'DriverStatus',
  'SystemStatus',
  'Swarm',
  'Volumes.[].Labels',
  'Volumes.[].Options',
];

/** Keys dockerd 20.10 (API 1.41) returns that later API versions dropped; gantryd answers 1.45. */
const REMOVED_SINCE_1_41: Record<string, string[]> = {
  container: ['HostConfig.KernelMemory', 'HostConfig.KernelMemoryTCP'], // 1.42 (kernel memory limits gone)
  // 1.44 (VirtualSize); Container and ContainerConfig (dropped by dockerd at 1.45) gantryd still answers,
  // for docker-compose 1.29 (e2e/test/docker-compose), so they are compared with dockerd's
  image: ['VirtualSize'],
  images: ['[].VirtualSize'], // 1.44
  info: ['KernelMemory', 'KernelMemoryTCP'], // 1.42 and 1.45
  version: [],
  containers: [],
  network: [],
  networks: [],
  volume: [],
  volumes: [],
  exec: [],
};

/**
 * Differences gantryd keeps on purpose (each with its reason).
 * - GraphDriver.Data: driver specific; gantryd's overlayfs snapshotter has no graph-driver dirs (null).
 */
const ALLOWED: Record<string, string[]> = {
  container: ['GraphDriver.Data (null here, object in reference)'],
  image: ['GraphDriver.Data (null here, object in reference)'],
};

interface Daemon {
  socket: string;
  docker(args: string[]): string;
}

async function get(sock: string, path: string): Promise<JsonValue> {
  const r = await unixRequest(sock, 'GET', path);
  if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${r.body.toString()}`);
  return JSON.parse(r.body.toString()) as JsonValue;
}

/** The same objects on one daemon; returns its answers by name. */
async function collect(d: Daemon, tag: string): Promise<Record<string, JsonValue>> {
  d.docker(['volume', 'create', '--label', 'k=v', `kv${tag}`]);
  const id = d
    .docker(['run', '-d', '--name', `kc${tag}`, '--network', 'none', '--label', 'l=v', '-e', 'X=1', '-v', `kv${tag}:/data`, IMAGE, 'sleep', '300'])
    .trim();
  const body = JSON.stringify({ Cmd: ['true'], AttachStdout: true });
  const ex = await unixRequest(d.socket, 'POST', `/containers/${id}/exec`, body, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
  });
  if (ex.status !== 201) throw new Error(`exec create: ${ex.status} ${ex.body.toString()}`);
  const execId = (JSON.parse(ex.body.toString()) as { Id: string }).Id;
  return {
    container: await get(d.socket, `/containers/${id}/json`),
    containers: await get(d.socket, '/containers/json?all=1'),
    image: await get(d.socket, `/images/${IMAGE}/json`),
    images: await get(d.socket, '/images/json'),
    network: await get(d.socket, '/networks/none'),
    networks: await get(d.socket, '/networks'),
    volume: await get(d.socket, `/volumes/kv${tag}`),
    volumes: await get(d.socket, '/volumes'),
    exec: await get(d.socket, `/exec/${execId}/json`),
    version: await get(d.socket, '/version'),
    info: await get(d.socket, '/info'),
  };
}

describeIf(
  needRoot(),
  needTool('dockerd', 'docker.io'),
  needTool('docker', 'docker.io'),
)('inspect/list key sets: gantryd against dockerd', () => {
  let dockerd: TestDockerd | undefined;
  let g: GantrydHarness | undefined;
  let ref: Record<string, JsonValue> = {};
  let ours: Record<string, JsonValue> = {};

  beforeAll(async () => {
    dockerd = new TestDockerd();
    const archive = join(dockerd.dir, 'busybox.tar');
    const made = spawnSync('bash', [bundleTool, join(dockerd.dir, 'bundle'), '--args', 'sh', '--docker-archive', archive, '--name', IMAGE], {
      encoding: 'utf8',
    });
    if (made.status !== 0) throw new Error(`make-busybox-bundle failed: ${made.stderr}`);
    const [, harness] = await Promise.all([dockerd.start(), GantrydHarness.start('gkeys-')]);
    g = harness;
    const dd = dockerd;
    const onDockerd: Daemon = {
      socket: dd.socket,
      docker: (args) => {
        const r = dd.docker(args);
        if (r.status !== 0) throw new Error(`dockerd: docker ${args.join(' ')}: ${r.stderr}\n${dd.logTail()}`);
        return r.stdout;
      },
    };
    const onGantryd: Daemon = { socket: harness.sock, docker: (args) => harness.ok(args) };
    onDockerd.docker(['load', '-i', archive]);
    onGantryd.docker(['load', '-i', archive]);
    [ref, ours] = await Promise.all([collect(onDockerd, 'd'), collect(onGantryd, 'g')]);
  }, 120000);

  afterAll(async () => {
    await Promise.all([dockerd?.stop(), g?.stop()]);
  }, 60000);

  test.each(Object.keys(REMOVED_SINCE_1_41))('%s: no key of dockerd missing', (what) => {
    expect(ref[what]).toBeDefined();
    const allowed = [...REMOVED_SINCE_1_41[what]!, ...(ALLOWED[what] ?? [])];
    const missing = missingKeys(ref[what]!, ours[what]!, DATA_MAPS).filter((p) => !allowed.some((a) => a === p || pathMatches(p, a)));
    expect(missing).toEqual([]);
  });
});
