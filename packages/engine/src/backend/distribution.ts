/**
 * What the registry routes (routes/distribution.ts, and pull through /images/create) call: the
 * daemon hands them the Distribution service (images/distribution.ts). Types only.
 */
import type { ContainerdStore, Credentials, RegistryClient } from '@gantry/registry';

export interface DistributionBackend {
  /** A client for one request: its credentials for `domain` only, the daemon's insecure registries. The caller closes it. */
  client(domain: string, creds: Credentials | undefined): Pick<RegistryClient, 'pull' | 'push' | 'login' | 'inspect' | 'close'>;
  /** The local image store pulls write to and pushes read from. */
  store(): ContainerdStore;
  /** Every image name in the store (push of a whole repository). */
  imageNames(): Promise<string[]>;
}
