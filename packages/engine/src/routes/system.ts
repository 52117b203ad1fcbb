import { hostCgroupVersion } from '../containers/host-facts';
import * as os from 'node:os';
import * as fs from 'node:fs';
import type { SystemBackend } from '../backend/system';
import type { EngineContext } from '../context';
import { API_VERSION, MIN_API_VERSION, type SystemInfo, type SystemVersion } from '@gantry/engine-api';
import { ENGINE_VERSION } from '../http/server';
import { Reply, type Router } from '../http/router';

function kernelVersion(): string {
  return os.release();
}

function osName(): string {
  try {
    const text = fs.readFileSync('/etc/os-release', 'utf8');
    return /^PRETTY_NAME="?([^"\n]*)"?/m.exec(text)?.[1] ?? 'Linux';
  } catch {
    return 'Linux';
  }
}

/** GET|HEAD /_ping, GET /version, GET /info (containers/images counts come from the system backend). */
export function registerSystemRoutes(router: Router, ctx: EngineContext, system: SystemBackend): void {
  const ping = () =>
    new Reply(200, undefined, {
      'Content-Type': 'text/plain; charset=utf-8',
      'Cache-Control': 'no-cache, no-store, must-revalidate',
      Pragma: 'no-cache',
      'Builder-Version': '1',
    });
  router.get('/_ping', (c) => {
    // Docker answers the body "OK"; HEAD gets the headers only
    const headers = {
      'Content-Type': 'text/plain; charset=utf-8',
      'Cache-Control': 'no-cache, no-store, must-revalidate',
      Pragma: 'no-cache',
      'Builder-Version': '1',
      'Api-Version': API_VERSION,
      'Docker-Experimental': 'false',
      Ostype: 'linux',
    };
    c.res.writeHead(200, { ...headers, 'Content-Length': c.method === 'HEAD' ? 0 : 2 });
    c.res.end(c.method === 'HEAD' ? undefined : 'OK');
    return Reply.handled;
  });
  router.head('/_ping', () => ping());

  router.get('/version', (): SystemVersion => ({
    Platform: { Name: 'Gantry Engine' },
    Components: [
      {
        Name: 'Engine',
        Version: ENGINE_VERSION,
        Details: {
          ApiVersion: API_VERSION,
          MinAPIVersion: MIN_API_VERSION,
          Os: 'linux',
          Arch: process.arch === 'x64' ? 'amd64' : process.arch,
          KernelVersion: kernelVersion(),
        },
      },
      { Name: 'gantry-containerd', Version: ENGINE_VERSION, Details: { GitCommit: '' } },
      { Name: 'gantry-runtime', Version: ENGINE_VERSION, Details: { GitCommit: '' } },
    ],
    Version: ENGINE_VERSION,
    ApiVersion: API_VERSION,
    MinAPIVersion: MIN_API_VERSION,
    GitCommit: '',
    GoVersion: `node${process.versions.node}`,
    Os: 'linux',
    Arch: process.arch === 'x64' ? 'amd64' : process.arch,
    KernelVersion: kernelVersion(),
    BuildTime: ctx.started.toISOString(),
  }));

  router.get('/info', async (): Promise<SystemInfo> => {
    const n = await system.counts();
    return {
      ID: fs.existsSync(`${ctx.dataRoot}/engine-id`) ? fs.readFileSync(`${ctx.dataRoot}/engine-id`, 'utf8').trim() : '',
      Containers: n.containers,
      ContainersRunning: n.running,
      ContainersPaused: n.paused,
      ContainersStopped: n.stopped,
      Images: n.images,
      Driver: 'overlayfs',
      DriverStatus: [['driver-type', 'io.containerd.snapshotter.v1']],
      Plugins: { Volume: ['local'], Network: ['bridge', 'host', 'none'], Authorization: null, Log: ['json-file'] },
      MemoryLimit: true,
      SwapLimit: fs.existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes'),
      CpuCfsPeriod: true,
      CpuCfsQuota: true,
      CPUShares: true,
      CPUSet: true,
      PidsLimit: true,
      OomKillDisable: true,
      IPv4Forwarding: true,
      BridgeNfIptables: bridgeNf('iptables'),
      BridgeNfIp6tables: bridgeNf('ip6tables'),
      Debug: false,
      NFd: fs.readdirSync('/proc/self/fd').length,
      NGoroutines: 0,
      SystemTime: new Date().toISOString(),
      LoggingDriver: 'json-file',
      CgroupDriver: 'cgroupfs',
      CgroupVersion: String(hostCgroupVersion()),
      NEventsListener: 0,
      KernelVersion: kernelVersion(),
      OperatingSystem: osName(),
      OSVersion: '',
      OSType: 'linux',
      Architecture: os.arch() === 'x64' ? 'x86_64' : os.arch(),
      IndexServerAddress: 'https://index.docker.io/v1/',
      RegistryConfig: { IndexConfigs: {}, InsecureRegistryCIDRs: ['127.0.0.0/8'], Mirrors: [] },
      NCPU: os.cpus().length,
      MemTotal: os.totalmem(),
      DockerRootDir: ctx.dataRoot,
      Name: os.hostname(),
      GenericResources: null,
      HttpProxy: process.env.HTTP_PROXY ?? process.env.http_proxy ?? '',
      HttpsProxy: process.env.HTTPS_PROXY ?? process.env.https_proxy ?? '',
      NoProxy: process.env.NO_PROXY ?? process.env.no_proxy ?? '',
      Labels: [],
      ExperimentalBuild: false,
      ServerVersion: ENGINE_VERSION,
      Runtimes: { 'gantry-runtime': { path: 'gantry-runtime' } },
      DefaultRuntime: 'gantry-runtime',
      Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
      LiveRestoreEnabled: true,
      Isolation: '',
      InitBinary: ctx.initBinary ?? '',
      // Expected: what the daemon was built against (deprecated in the API, still sent by dockerd)
      ContainerdCommit: { ID: '', Expected: '' },
      RuncCommit: { ID: '', Expected: '' },
      InitCommit: { ID: '', Expected: '' },
      SecurityOptions: ['name=seccomp,profile=builtin', 'name=cgroupns'],
      CDISpecDirs: [], // API 1.45: no CDI device support

      Warnings: [],
    };
  });
}

/** net.bridge.bridge-nf-call-<tool>: whether bridged traffic goes through that tool's rules. */
function bridgeNf(tool: 'iptables' | 'ip6tables'): boolean {
  try {
    return fs.readFileSync(`/proc/sys/net/bridge/bridge-nf-call-${tool}`, 'utf8').trim() === '1';
  } catch {
    return false; // br_netfilter not loaded
  }
}
