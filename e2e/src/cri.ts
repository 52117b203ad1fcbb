/**
 * A gantry-containerd serving Kubernetes' CRI for e2e tests: its own CNI config directory (a bridge
 * and subnet named per suite), IPAM data dir and log directory, the busybox image of
 * tools/make-busybox-bundle.sh imported into the k8s.io namespace, and generated CRI clients.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClientReadableStream } from '@grpc/grpc-js';
import { callMetadata, clientOn, cri, unaryCall, unixChannel, type UnaryMethod } from '@gantry/api';
import { TestGantryContainerd } from './gantry-containerd';
import { bundleTool } from './paths';

export const BUSYBOX = 'docker.io/library/busybox:latest';

export interface CriSuiteOptions {
  /** Bridge name (≤ 15 chars) and /24 subnet prefix ("10.211.7") unique to the suite. */
  bridge: string;
  subnet: string;
  /** [cri.registry.mirrors."docker.io"] endpoints. */
  mirrors?: string[];
}

export class CriHarness {
  readonly d = new TestGantryContainerd('k8s.io');
  readonly cniDir: string;
  readonly ipamDir: string;
  readonly logDir: string;
  readonly stateDir: string;
  readonly cgroupParent: string;
  runtime!: cri.RuntimeServiceClient;
  images!: cri.ImageServiceClient;
  private channel: ReturnType<typeof unixChannel> | undefined;

  constructor(readonly opts: CriSuiteOptions) {
    this.cniDir = join(this.d.dir, 'net.d');
    this.ipamDir = join(this.d.dir, 'ipam');
    this.logDir = join(this.d.dir, 'logs');
    this.stateDir = join(this.d.dir, 'cri');
    this.cgroupParent = `/gantry-e2e-${opts.bridge}`;
    mkdirSync(this.cniDir, { recursive: true });
    mkdirSync(this.logDir, { recursive: true });
    writeFileSync(
      join(this.cniDir, '10-e2e.conflist'),
      JSON.stringify({
        cniVersion: '1.0.0',
        name: `${opts.bridge}-net`,
        plugins: [
          {
            type: 'bridge',
            bridge: opts.bridge,
            isGateway: true,
            ipMasq: false,
            ipam: { type: 'host-local', dataDir: this.ipamDir, ranges: [[{ subnet: `${opts.subnet}.0/24` }]] },
          },
          { type: 'portmap', capabilities: { portMappings: true } },
        ],
      }),
    );
    const mirrors = opts.mirrors?.length ? `[cri.registry.mirrors."docker.io"]\nendpoints = ${JSON.stringify(opts.mirrors)}\n` : '';
    const config = join(this.d.dir, 'config.toml');
    writeFileSync(
      config,
      `[cri]\ncni_conf_dir = ${JSON.stringify(this.cniDir)}\nstate_dir = ${JSON.stringify(this.stateDir)}\ncgroup_parent = ${JSON.stringify(this.cgroupParent)}\n${mirrors}`,
    );
    this.d.extraArgs.push('--config', config);
  }

  /** Start the daemon (again), connect the clients, import busybox once. */
  async start(importBusybox = true): Promise<void> {
    await this.d.start();
    this.connect();
    if (importBusybox) {
      const tar = join(this.d.dir, 'busybox.tar');
      const made = spawnSync('bash', [bundleTool, join(this.d.dir, 'bb'), '--docker-archive', tar, '--name', BUSYBOX, '--', 'sh'], { encoding: 'utf8' });
      if (made.status !== 0) throw new Error(`make-busybox-bundle failed: ${made.stderr}`);
      const r = this.d.ctr(['images', 'import', tar]);
      if (r.status !== 0) throw new Error(`ctr images import failed: ${r.stderr}`);
    }
  }

  private connect(): void {
    this.channel = unixChannel(this.d.socket);
    this.runtime = clientOn(cri.RuntimeServiceClient, this.channel);
    this.images = clientOn(cri.ImageServiceClient, this.channel);
  }

  /** Restart the daemon in place: its tasks keep running in their shims. */
  async restart(): Promise<void> {
    this.channel?.close();
    await this.d.stopDaemonOnly();
    await this.d.start();
    this.connect();
  }

  call<Req, Res>(client: object, method: UnaryMethod<Req, Res>, req: Req, timeoutMs = 60000): Promise<Res> {
    return unaryCall(client, method, req, callMetadata(), timeoutMs);
  }

  events(): ClientReadableStream<cri.ContainerEventResponse> {
    return this.runtime.getContainerEvents(cri.GetEventsRequest.fromPartial({}), callMetadata());
  }

  podConfig(name: string, extra: Partial<cri.PodSandboxConfig> = {}): cri.PodSandboxConfig {
    return cri.PodSandboxConfig.fromPartial({
      metadata: { name, uid: `uid-${name}`, namespace: 'e2e', attempt: 0 },
      logDirectory: join(this.logDir, name),
      labels: { suite: 'cri-e2e', pod: name },
      ...extra,
    });
  }

  async runPod(name: string, extra: Partial<cri.PodSandboxConfig> = {}): Promise<{ id: string; config: cri.PodSandboxConfig }> {
    const config = this.podConfig(name, extra);
    const r = await this.call(this.runtime, this.runtime.runPodSandbox, cri.RunPodSandboxRequest.fromPartial({ config }));
    return { id: r.podSandboxId, config };
  }

  /** Create and start a busybox container running `sh -c script` in a pod. */
  async runContainer(
    pod: { id: string; config: cri.PodSandboxConfig },
    name: string,
    script: string,
    extra: Partial<cri.ContainerConfig> = {},
  ): Promise<string> {
    const config = cri.ContainerConfig.fromPartial({
      metadata: { name },
      image: { image: BUSYBOX },
      command: ['sh', '-c', script],
      logPath: `${name}.log`,
      labels: { ctr: name },
      ...extra,
    });
    const { containerId } = await this.call(
      this.runtime,
      this.runtime.createContainer,
      cri.CreateContainerRequest.fromPartial({ podSandboxId: pod.id, config, sandboxConfig: pod.config }),
    );
    await this.call(this.runtime, this.runtime.startContainer, { containerId });
    return containerId;
  }

  async removePod(id: string): Promise<void> {
    await this.call(this.runtime, this.runtime.stopPodSandbox, { podSandboxId: id });
    await this.call(this.runtime, this.runtime.removePodSandbox, { podSandboxId: id });
  }

  async stop(): Promise<void> {
    this.channel?.close();
    await this.d.stop(['k8s.io']);
    spawnSync('ip', ['link', 'delete', this.opts.bridge], { stdio: 'ignore' });
  }
}
