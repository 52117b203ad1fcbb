import type { Exchange } from './events/exchange';
import type { Logger } from '@gantry/linux';
import type { RecordStore } from '@gantry/linux';

/** What every service of the daemon shares. */
export interface DaemonContext {
  log: Logger;
  store: RecordStore;
  exchange: Exchange;
  /** Publish an event the daemon itself raises (container/namespace changes, task events). */
  publish(namespace: string, topic: string, event: import('@gantry/api').protobuf.Any): void;
  /** Paths: persistent root and runtime state. */
  root: string;
  state: string;
  /** The daemon's own gRPC socket (shims publish events to it). */
  address: string;
}
