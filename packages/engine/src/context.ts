import type { Logger } from '@gantry/linux';
import type { Containerd } from './containerd/client';
import type { EngineEvents } from './events';
import type { NetworkController } from './networks/controller';

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
  /** Networks and containers' network sandboxes (absent in unit tests that need none). */
  networks?: NetworkController;
}
