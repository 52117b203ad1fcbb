/**
 * Published ports of containers' sandboxes: their specifications checked at create, their host
 * ports held while the container runs (and again after a gantryd restart), and dockerd's words
 * when one is taken.
 */
import { randomBytes } from 'node:crypto';
import { errdefs, type KindError } from '@gantry/linux';
import { type PortAllocatedError, type PortMapping, portRequests, PortReservations } from '@gantry/network';
import { kindError } from './errors';
import type { Sandbox } from './sandbox';

/** At create: a bad port specification is refused (only a bridge-mode container publishes). */
export function checkPortSpecs(sb: Sandbox): void {
  try {
    if (sb.mode === 'bridge') portRequests(sb.portBindings, sb.exposed, sb.publishAll);
  } catch (e) {
    throw kindError(e);
  }
}

/** dockerd's answer when a published host port is held by something else. */
export function portAllocationFailure(containerName: string, e: PortAllocatedError): KindError {
  return errdefs.internal(`driver failed programming external connectivity on endpoint ${containerName} (${randomBytes(32).toString('hex')}): ${e.message}`);
}

/** The host ports held for running containers, by container id. */
export class SandboxPorts {
  private readonly held = new PortReservations();

  /** Hold every published port of the sandbox, all or nothing; throws PortAllocatedError when a fixed one is taken. */
  reserve(sb: Sandbox): Promise<PortMapping[]> {
    return this.held.reserve(sb.containerId, portRequests(sb.portBindings, sb.exposed, sb.publishAll));
  }

  /** After our restart: hold again the ports a container that survived it has published (best effort). */
  async readopt(sb: Sandbox): Promise<void> {
    await this.held
      .reserve(
        sb.containerId,
        sb.ports.map((p) => ({ containerPort: p.containerPort, protocol: p.protocol, hostIP: p.hostIP, hostPorts: [p.hostPort, p.hostPort] })),
      )
      .catch(() => undefined);
  }

  release(id: string): void {
    this.held.release(id);
  }

  releaseAll(): void {
    this.held.releaseAll();
  }
}
