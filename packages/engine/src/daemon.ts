import * as fs from 'node:fs';
import { createFileExclusive, FileExistsError } from '@gantry/linux';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Logger } from '@gantry/containerd';
import { Containerd } from './containerd/client';
import { ContainerdSupervisor } from './containerd/supervisor';
import type { EngineContext } from './context';
import { EngineEvents } from './events';
import { ApiServer } from './http/server';
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
import { ContainerStore } from './containers/store';
import { ExecManager } from './containers/exec';
import { NetworkController } from './networks/controller';
import { registerNetworkRoutes } from './routes/networks';

export interface EngineOptions {
  /** Unix socket path of the API. */
  host: string;
  dataRoot: string;
  execRoot: string;
  /** gantry-containerd socket; when absent gantryd runs its own. */
  containerd?: string;
  /** Registries (host[:port]) reached over plain HTTP / unverified TLS besides loopback. */
  insecureRegistries?: string[];
  log?: Logger;
  /** Linux bridge of the default `bridge` network (default gantry0). */
  defaultBridge?: string;
}

export interface Engine {
  ctx: EngineContext;
  router: Router;
  close(): Promise<void>;
}

/** Bring the engine up: containerd (ours or given), the API routes, the socket. */
export async function startEngine(opts: EngineOptions & { log: Logger }): Promise<Engine> {
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
  };
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
        return c && { Id: c.Id, Name: c.Name, running: c.State.Running };
      },
    },
  });
  await networks.init();
  ctx.networks = networks;
  const volumes = registerVolumeRoutes(router, ctx, store);
  const containers = new ContainerManager(ctx, store, volumes);
  const execs = new ExecManager(ctx, containers);
  const inUse = (imageId: string, name: string) =>
    store
      .all()
      .filter((c) => c.ImageID === imageId || (name !== '' && c.Image === name))
      .map((c) => c.Id);
  registerSystemRoutes(router, ctx, async () => {
    const all = store.all();
    const images = await imageUsage(ctx).then((l) => l.length).catch(() => 0);
    return {
      containers: all.length,
      running: all.filter((c) => c.State.Running && !c.State.Paused).length,
      paused: all.filter((c) => c.State.Paused).length,
      stopped: all.filter((c) => !c.State.Running).length,
      images,
    };
  });
  registerContainerRoutes(router, ctx, containers, (id) => execs.idsOf(id));
  registerContainerFileRoutes(router, ctx, containers);
  registerExecRoutes(router, ctx, execs);
  registerImageRoutes(router, ctx, { inUse });
  registerEventRoutes(router, ctx, store, () => volumeUsage(volumes));
  registerDistributionRoutes(router, ctx, { insecureRegistries: opts.insecureRegistries ?? [] });
  registerNetworkRoutes(router, ctx, networks);
  // Sweep stale sandboxes first: once restore() runs, automatic restarts set up fresh ones that a
  // later sweep would take for stale (a container being restarted is not running yet).
  await networks.sweep();
  await containers.restore();
  const server = new ApiServer(router, opts.log);
  await server.listen(opts.host);
  opts.log.info('API listening', { host: opts.host, containerd: address });
  return {
    ctx,
    router,
    close: async () => {
      containers.close();
      await server.close();
      await networks.close();
      cd.close();
      await supervisor?.stop();
    },
  };
}
