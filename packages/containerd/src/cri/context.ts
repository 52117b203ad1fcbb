import type { Logger } from '@gantry/linux';
import type { DaemonClients } from './clients';
import type { CriConfig } from './config';
import type { ContainerEvents } from './events';
import type { ImageResolver } from './image-service';
import type { PodNetwork } from './pod-network';
import type { CriStore } from './store';

/** What the CRI service's parts share. */
export interface CriContext {
  log: Logger;
  cd: DaemonClients;
  store: CriStore;
  images: ImageResolver;
  network: PodNetwork;
  config: CriConfig;
  /** Pinned namespaces, pod files and container FIFOs live under it. */
  stateDir: string;
  events: ContainerEvents;
}
