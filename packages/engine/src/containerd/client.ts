import { ContainerdClient } from '@gantry/api';

/** The containerd namespace gantryd keeps its containers and images in (dockerd uses "moby"). */
export const ENGINE_NAMESPACE = 'gantry';

/** gantryd's view of gantry-containerd: @gantry/api's client, every call in the engine's namespace. */
export class Containerd extends ContainerdClient {
  constructor(address: string, namespace = ENGINE_NAMESPACE) {
    super(address, { namespace });
  }
}
