import type { Logger } from '@gantry/linux';
import type { Containerd } from './containerd/client';
import type { EngineEvents } from './events';
import type { ContainerSandboxes } from './backend/networks';

/** What every part of the engine shares. */
export interface EngineContext {
  log: Logger;
  cd: Containerd;
  events: EngineEvents;
  /** --data-root: containers' configs and logs, volumes. */
  dataRoot: string;
  /** gantry-containerd's state dir, when gantryd runs it (task bundles: rootfs mounted while running). */
  containerdState?: string;
  started: Date;
  /** Host path of docker-init (undefined: none found; `--init` containers are refused). */
  initPath?: string;
  /** What `docker info` names as the init binary: --init-path, or docker-init. */
  initBinary?: string;
  /** --init: containers whose HostConfig.Init is unset get the init too. */
  defaultInit?: boolean;
  /** Containers' network sandboxes, the daemon's NetworkController (absent in unit tests that need none). */
  networks?: ContainerSandboxes;
}
