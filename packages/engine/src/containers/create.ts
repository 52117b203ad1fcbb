/** `docker create`: validate, resolve the image, prepare snapshot, networks and mounts, write the containerd container and the record. */
import * as fs from 'node:fs';
import { containers as cpb, isUnavailable } from '@gantry/api';
import { errdefs, traced } from '@gantry/linux';
import type { PortBinding } from '@gantry/network';
import { jsonLogPath } from '../logs/json-file';
import { noSuchImage } from '../images/catalog';
import type { PreparedMounts } from '../volumes/container-mounts';
import type { EndpointConfig } from '../networks/controller';
import { CutByRestart, MAX_ATTEMPTS_ACROSS_RESTARTS, RUNTIME_NAME, SNAPSHOTTER, SPEC_TYPE } from './containerd-objects';
import type { ContainerConfig, HostConfig } from '@gantry/engine-api';
import { resolveImage, type ResolvedImage } from './image-config';
import type { ContainerManager } from './manager';
import { initialState, type ContainerRecord } from './record';
import { buildSpec, mergeImageConfig } from './spec';
import { hostDeviceLookup } from './devices';
import { hostCgroupVersion, hostPlatform } from './host-facts';
import { userResolver } from './users';
import { validateCreate } from './validate';
import { etcPaths, writeStandaloneEtc } from '../networks/etc-files';

export async function create(m: ContainerManager, body: unknown, name: string | null): Promise<{ Id: string; Warnings: string[] }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await createOnce(m, body, name, attempt < MAX_ATTEMPTS_ACROSS_RESTARTS);
    } catch (e) {
      if (!(e instanceof CutByRestart)) throw e;
      m.ctx.log.warn('container create cut by a gantry-containerd restart; creating it again', { name, attempt });
    }
  }
}

async function createOnce(m: ContainerManager, body: unknown, name: string | null, mayRetry: boolean): Promise<{ Id: string; Warnings: string[] }> {
  const v = validateCreate(body, name);
  const config = v.config as ContainerConfig & Record<string, unknown>;
  if (!config.Image) throw errdefs.invalidArgument('No image specified');
  const image: ResolvedImage = await traced('engine.create.image', () => resolveImage(m.cd, String(config.Image))).catch((e: unknown) => {
    if (errdefs.ownKind(e) === 'not-found') throw noSuchImage(String(config.Image));
    if (mayRetry && isUnavailable(e) && !m.closing) throw new CutByRestart();
    throw e;
  });
  const id = m.store.newId();
  const containerName = m.store.claimName(v.name);
  const hostConfig = v.hostConfig as HostConfig & Record<string, unknown>;
  // dockerd records the default it applied: private on cgroup v2, host on v1
  if (!hostConfig.CgroupnsMode) hostConfig.CgroupnsMode = hostCgroupVersion() === 2 ? 'private' : 'host';
  const dir = m.store.containerDir(id);
  fs.mkdirSync(dir, { recursive: true, mode: 0o710 });
  let hostname = config.Hostname || id.slice(0, 12);
  let snapshotMade = false;
  let prepared: PreparedMounts | undefined;
  try {
    const net = traced('engine.create.network', () => prepareNetwork(m, id, dir, v.endpoints, config, hostConfig, image.config.config?.ExposedPorts));
    if (net) hostname = net.hostname;
    const etc = net ? net.etc : writeStandaloneEtc(dir, hostname);
    const mounts = await m.cd.prepareContainerSnapshot(SNAPSHOTTER, id, image.chainId);
    snapshotMade = true;
    prepared = m.mounts?.prepare(hostConfig, Object.keys({ ...(image.config.config?.Volumes ?? {}), ...(config.Volumes ?? {}) }));
    const spec = await traced('engine.create.spec', async () =>
      buildSpec({
        id,
        config,
        hostConfig,
        image: { config: image.config.config ?? {} },
        rootfsPath: 'rootfs',
        hostname,
        etcFiles: etc,
        networkNamespacePath: net?.netnsPath,
        namespacePath: net ? (type, ref) => joinNamespace(m, type, ref) : undefined,
        resolveUser: await userResolver(m.cd, mounts, m.ctx.dataRoot),
        volumeSource: prepared?.volumeSource,
        configVolumes: prepared?.configVolumes,
        devices: hostDeviceLookup,
        initPath: m.ctx.initPath,
        defaultInit: m.ctx.defaultInit,
        cgroupVersion: hostCgroupVersion(),
        ...hostPlatform(),
      }),
    );
    prepared?.copyUp(mounts);
    const effective = {
      ...config,
      Hostname: hostname,
      Image: String(config.Image),
      Env: spec.process?.env ?? [],
      Cmd: config.Cmd ?? image.config.config?.Cmd,
      Entrypoint: config.Entrypoint ?? image.config.config?.Entrypoint,
      WorkingDir: config.WorkingDir || image.config.config?.WorkingDir || '',
      Labels: { ...(image.config.config?.Labels ?? {}), ...(config.Labels ?? {}) },
      Healthcheck: mergeImageConfig(config, image.config.config ?? {}).Healthcheck,
    };
    await m.cd.call(m.cd.containers, m.cd.containers.create, {
      container: cpb.Container.fromPartial({
        id,
        image: image.name,
        labels: { 'io.gantry.name': containerName.slice(1) },
        runtime: { name: RUNTIME_NAME },
        spec: { typeUrl: SPEC_TYPE, value: Buffer.from(JSON.stringify(spec)) },
        snapshotter: SNAPSHOTTER,
        snapshotKey: id,
      }),
    });
    const args = spec.process?.args ?? [];
    const rec: ContainerRecord = {
      Id: id,
      Name: containerName,
      Created: new Date().toISOString(),
      Path: args[0] ?? '',
      Args: args.slice(1),
      Image: String(config.Image),
      ImageID: image.id,
      Config: effective,
      HostConfig: hostConfig,
      State: initialState(),
      RestartCount: 0,
      LogPath: jsonLogPath(m.ctx.dataRoot, id),
      ManuallyStopped: false,
      SnapshotKey: id,
      ...(prepared ? { MountPoints: prepared.mountPoints } : {}),
    };
    m.store.save(rec);
    m.ctx.events.emit('container', 'create', id, { image: rec.Image, name: containerName.slice(1) });
    return { Id: id, Warnings: [] };
  } catch (e) {
    if (snapshotMade) await m.cd.call(m.cd.snapshots, m.cd.snapshots.remove, { snapshotter: SNAPSHOTTER, key: id }).catch(() => undefined);
    await m.cd.call(m.cd.containers, m.cd.containers.delete, { id }).catch(() => undefined);
    prepared?.rollback();
    await m.ctx.networks?.forget(id).catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
    if (mayRetry && isUnavailable(e) && !m.closing) throw new CutByRestart();
    throw errdefs.fromGrpc(e);
  }
}

/** The container's networks (validated, its /etc files written) when gantryd manages networking. */
// the decoded endpoints (validateCreate), never the raw body: only typed fields reach the network code
function prepareNetwork(
  m: ContainerManager,
  id: string,
  dir: string,
  endpoints: Record<string, EndpointConfig>,
  config: ContainerConfig,
  hc: HostConfig,
  imageExposed: Record<string, unknown> = {},
) {
  const nets = m.ctx.networks;
  if (!nets) return undefined;
  const exposed = { ...imageExposed, ...(config.ExposedPorts ?? {}) } as Record<string, unknown>;
  const p = nets.prepare({
    id,
    dir,
    hostname: config.Hostname ?? '',
    domainname: config.Domainname,
    networkMode: config.NetworkDisabled ? 'none' : hc.NetworkMode,
    endpoints,
    extraHosts: hc.ExtraHosts,
    dns: hc.Dns,
    dnsSearch: hc.DnsSearch,
    dnsOptions: hc.DnsOptions,
    portBindings: hc.PortBindings as Record<string, PortBinding[] | null> | undefined,
    exposed,
    publishAll: hc.PublishAllPorts,
  });
  const hostname = p.hostname || id.slice(0, 12);
  return {
    hostname,
    netnsPath: typeof p.netns === 'object' ? p.netns.path : undefined,
    etc: etcPaths(dir),
  };
}

function joinNamespace(m: ContainerManager, type: 'network' | 'ipc' | 'pid', ref: string): string {
  if (type !== 'network') throw new Error(`joining another container's ${type} namespace is not supported yet`);
  return m.ctx.networks!.joinPath(ref);
}
