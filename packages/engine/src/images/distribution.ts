/**
 * Registry clients and the containerd image store they pull into and push from, made with the
 * daemon's options (--insecure-registry) and its gantry-containerd connection.
 */
import { ContainerdStore, RegistryClient, credentialsFor, type Credentials } from '@gantry/registry';
import type { DistributionBackend } from '../backend/distribution';
import type { Containerd } from '../containerd/client';

export class Distribution implements DistributionBackend {
  constructor(
    private readonly cd: Containerd,
    private readonly insecureRegistries: string[],
  ) {}

  client(domain: string, creds: Credentials | undefined): RegistryClient {
    return new RegistryClient({ credentials: credentialsFor(domain, creds), insecureRegistries: this.insecureRegistries });
  }

  store(): ContainerdStore {
    const cd = this.cd;
    return new ContainerdStore({ content: cd.content, images: cd.images, leases: cd.leases, snapshots: cd.snapshots, diff: cd.diff }, cd.namespace);
  }

  async imageNames(): Promise<string[]> {
    const cd = this.cd;
    const all = await cd.call(cd.images, cd.images.list, { filters: [] });
    return all.images.map((i) => i.name);
  }
}
