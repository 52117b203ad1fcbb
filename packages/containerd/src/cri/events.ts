/** GetContainerEvents: every subscriber gets each container transition after it subscribed. */
import type { cri } from '@gantry/api';

type Listener = (e: cri.ContainerEventResponse) => void;

export class ContainerEvents {
  private readonly listeners = new Set<Listener>();

  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  emit(e: cri.ContainerEventResponse): void {
    for (const fn of this.listeners) fn(e);
  }
}
