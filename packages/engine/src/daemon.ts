import * as fs from 'node:fs';
import { createFileExclusive, FileExistsError, type Logger } from '@gantry/linux';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Containerd } from './containerd/client';
import { ContainerdSupervisor } from './containerd/supervisor';
import { DEFAULT_INIT_BINARY, findInitBinary } from './containers/init-binary';
import type { EngineContext } from './context';
import { EngineEvents } from './events';
import { ApiServer, type ApiTimeouts } from './http/server';
import { prepareListeners, type HostAddress, type TlsFlags } from './http/listeners';
import { Router } from './http/router';
import { registerSystemRoutes } from './routes/system';
import { registerContainerRoutes } from './routes/containers';
import { registerExecRoutes } from './routes/exec';
import { registerImageRoutes, imageUsage } from './routes/images';
import { registerEventRoutes } from './routes/events';
import { registerVolumeRoutes, volumeUsage } from './routes/volumes';
import { registerContainerFileRoutes } from './routes/container-files';
import { registerDistributionRoutes } from './routes/distribution';
import { ContainerManager } from './containers/manager';
import { RootfsAccess } from './containers/rootfs-access';
import { ContainerStore } from './containers/store';
import { Distribution } from './images/distribution';
import { ImageService } from './images/service';
import { ExecManager } from './containers/exec';
import { EventMonitor } from './containers/monitor';
import { NetworkController } from './networks/controller';
import { registerNetworkRoutes } from './routes/networks';
import { registerBuildRoutes } from './routes/build';
import { BuilderStore } from './build/builder-store';
import { ContainerMounts } from './volumes/container-mounts';
import { VolumeStore } from './volumes/store';

export interface EngineOptions {
  /** Where the API listens (-H): unix sockets and TCP addresses. */
  hosts: HostAddress[];
  /** -G/--group of the unix sockets; undefined: docker if that group exists, else root only. */
  socketGroup?: string;
  /** --tls/--tlsverify and the certificate files for TCP listeners. */
  tls?: TlsFlags;
  /** Allow TCP without client certificates on a non-loopback address. */
  insecureTcp?: boolean;
  /** Header, keep-alive and body idle timeouts of the API (tests shorten them). */
  apiTimeouts?: Partial<ApiTimeouts>;
  dataRoot: string;
  execRoot: string;
  /** gantry-containerd socket; when absent gantryd runs its own. */
  containerd?: string;
  /** Registries (host[:port]) reached over plain HTTP / unverified TLS besides loopback. */
  insecureRegistries?: string[];
  log?: Logger;
  /** Linux bridge of the default `bridge` network (default gantry0). */
  defaultBridge?: string;
  /** --init-path: the init binary for `--init` containers (default docker-init, looked up as dockerd does). */
  initPath?: string;
  /** --init: every container whose HostConfig.Init is unset runs under the init. */
  init?: boolean;
}

export interface Engine {
  ctx: EngineContext;
  router: Router;
  close(): Promise<void>;
}

/** Bring the engine up: containerd (ours or given), the API routes, the socket. */
export async function startEngine(opts: EngineOptions & { log: Logger }): Promise<Engine> {
  // addresses, group and certificates first: a refused or broken listener fails before anything starts
  const listeners = await prepareListeners({
    hosts: opts.hosts,
    group: opts.socketGroup,
    tls: opts.tls,
    insecureTcp: opts.insecureTcp,
    warn: (msg, fields) => opts.log.warn(msg, fields),
  });
  fs.mkdirSync(opts.dataRoot, { recursive: true, mode: 0o711 });
  const idFile = path.join(opts.dataRoot, 'engine-id');
  try {
    createFileExclusive(idFile, randomUUID(), { mode: 0o644 });
  } catch (e) {
    if (!(e instanceof FileExistsError)) throw e;
  }
  let supervisor: ContainerdSupervisor | undefined;
  let address = opts.containerd;
  if (!address) {
    address = path.join(opts.execRoot, 'containerd', 'containerd.sock');
    supervisor = new ContainerdSupervisor(address, path.join(opts.dataRoot, 'containerd'), path.join(opts.execRoot, 'containerd'), opts.log);
    await supervisor.start();
  }
  const cd = new Containerd(address);
  const ctx: EngineContext = {
    log: opts.log,
    cd,
    events: new EngineEvents(),
    dataRoot: opts.dataRoot,
    containerdState: supervisor ? path.join(opts.execRoot, 'containerd') : undefined,
    started: new Date(),
    initPath: findInitBinary(opts.initPath),
    initBinary: opts.initPath ?? DEFAULT_INIT_BINARY,
    defaultInit: opts.init ?? false,
  };
  if (!ctx.initPath) opts.log.warn('no init binary: containers asking for --init are refused', { initBinary: ctx.initBinary });
  const router = new Router();
  const store = new ContainerStore(opts.dataRoot, opts.log);
  const networks = new NetworkController({
    dataRoot: opts.dataRoot,
    execRoot: opts.execRoot,
    log: opts.log,
    defaultBridge: opts.defaultBridge,
    containers: {
      find: (ref) => {
        const c = store.find(ref);
        return c && { Id: c.Id, Name: c.Name, running: c.State.Running, links: (c.HostConfig as { Links?: string[] | null }).Links ?? [] };
      },
    },
  });
  await networks.init();
  ctx.networks = networks;
  const volumeStore = new VolumeStore(opts.dataRoot, {
    onQuarantine: (r) => opts.log.error('volume record quarantined: it cannot be read; the volume is not served, its data is kept', { ...r }),
  });
  const volumes = new ContainerMounts(volumeStore, store, ctx);
  registerVolumeRoutes(router, ctx, volumes);
  const containers = new ContainerManager(ctx, store, volumes);
  const execs = new ExecManager(ctx, containers);
  const imageService = new ImageService(cd);
  const inUse = (imageId: string, name: string) =>
    store
      .all()
      .filter((c) => c.ImageID === imageId || (name !== '' && c.Image === name))
      .map((c) => c.Id);
  registerSystemRoutes(router, ctx, {
    counts: async () => {
      const all = store.all();
      const images = await imageUsage(imageService)
        .then((l) => l.length)
        .catch(() => 0);
      return {
        containers: all.length,
        running: all.filter((c) => c.State.Running && !c.State.Paused).length,
        paused: all.filter((c) => c.State.Paused).length,
        stopped: all.filter((c) => !c.State.Running).length,
        images,
      };
    },
  });
  registerContainerRoutes(router, ctx, containers, (id) => execs.idsOf(id), networks);
  registerContainerFileRoutes(router, ctx, containers, new RootfsAccess(ctx));
  registerExecRoutes(router, ctx, execs);
  const distribution = new Distribution(cd, opts.insecureRegistries ?? []);
  const builderStore = new BuilderStore(opts.dataRoot, opts.log);
  registerImageRoutes(router, ctx, { images: imageService, inUse, parents: builderStore }, distribution);
  registerEventRoutes(router, ctx, store, imageService, () => volumeUsage(volumes));
  registerDistributionRoutes(router, ctx, distribution);
  registerNetworkRoutes(router, ctx, networks);
  registerBuildRoutes(router, { ctx, images: imageService, store: () => distribution.store(), dist: distribution, builder: builderStore }, containers);
  // Sweep stale sandboxes first: once restore() runs, automatic restarts set up fresh ones that a
  // later sweep would take for stale (a container being restarted is not running yet).
  await networks.sweep();
  // Exits and OOMs arrive on one event stream (moby's monitor). Subscribe before restore() lists the
  // tasks, so an exit between the list and the subscription is not lost; every later subscription
  // (gantry-containerd restarted) reconciles the states the stream may have missed.
  let restored = false;
  const monitor = new EventMonitor(
    (filters) => cd.subscribe(filters),
    cd.namespace,
    {
      exit: async (e) => {
        if (e.id === e.containerId) await containers.handleTaskExit(e);
        else if (!containers.health.handleExecExit(e.containerId, e.id, e.exitStatus)) await execs.handleExit(e.containerId, e.id, e.exitStatus);
      },
      oom: (id) => containers.handleOom(id),
      live: async () => {
        if (!restored) return;
        await containers.reconcile();
        await execs.reconcile();
      },
    },
    opts.log,
  );
  monitor.start();
  const subscribed = await Promise.race([monitor.ready.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 20000).unref())]);
  if (!subscribed) opts.log.warn('containerd event stream not live yet; exits are reconciled once it is');
  await containers.restore();
  restored = true;
  const server = new ApiServer(router, opts.log, opts.apiTimeouts);
  try {
    for (const l of listeners) {
      const where = await server.listen(l);
      opts.log.info('API listening', {
        host: where,
        ...(l.proto === 'unix' ? { gid: l.gid } : { tls: l.tls ? (l.tls.verify ? 'verify' : 'no client verification') : 'none' }),
        ...(l.proto === 'fd' ? { socketName: l.name } : {}),
        containerd: address,
      });
    }
  } catch (e) {
    await server.close();
    monitor.close();
    containers.close();
    await networks.close();
    cd.close();
    await supervisor?.stop();
    throw e;
  }
  return {
    ctx,
    router,
    close: async () => {
      monitor.close();
      containers.close();
      await server.close();
      await networks.close();
      cd.close();
      await supervisor?.stop();
    },
  };
}
