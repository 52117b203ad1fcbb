/** One entry point: a RegistryHost per registry domain, pull/push/login/inspect by reference. */
import { formatReference, parseReference, type Platform, isIndex } from '@gantry/oci';
import type { Credentials } from './auth';
import { pullImage, type PullOptions, type PullResult } from './pull';
import { pushImage, type PushOptions, type PushResult } from './push';
import { Repository } from './repository';
import type { ContainerdStore } from './store';
import { RegistryHost, type TransportOptions } from './transport';
import { RegistryError } from './errors';

export interface DistributionInspect {
  Descriptor: { mediaType: string; digest: string; size: number };
  Platforms: { architecture: string; os: string; variant?: string; 'os.version'?: string }[];
}

export class RegistryClient {
  private readonly hosts = new Map<string, RegistryHost>();

  constructor(readonly opts: TransportOptions = {}) {}

  host(domain: string): RegistryHost {
    let h = this.hosts.get(domain);
    if (!h) {
      h = new RegistryHost(domain, this.opts);
      this.hosts.set(domain, h);
    }
    return h;
  }

  pull(store: ContainerdStore, reference: string, opts?: PullOptions): Promise<PullResult> {
    return pullImage(this.host(parseReference(reference).domain), store, reference, opts);
  }

  push(store: ContainerdStore, reference: string, opts?: PushOptions): Promise<PushResult> {
    return pushImage(this.host(parseReference(reference).domain), store, reference, opts);
  }

  login(domain: string): Promise<void> {
    return this.host(domain).login();
  }

  /** What `GET /distribution/{name}/json` answers: the descriptor a reference resolves to and its platforms. */
  async inspect(reference: string): Promise<DistributionInspect> {
    const ref = parseReference(reference);
    const host = this.host(ref.domain);
    const repo = new Repository(host, ref.path);
    const m = await repo.getManifest(ref.digest ?? ref.tag!);
    const platforms: DistributionInspect['Platforms'] = [];
    const doc = JSON.parse(m.body.toString('utf8')) as { manifests?: { platform?: Platform & { 'os.version'?: string } }[]; config?: { digest: string } };
    if (isIndex(m.mediaType)) {
      for (const e of doc.manifests ?? [])
        if (e.platform)
          platforms.push({ architecture: e.platform.architecture, os: e.platform.os, ...(e.platform.variant ? { variant: e.platform.variant } : {}) });
    } else if (doc.config) {
      const res = await repo.openBlob(doc.config.digest);
      const chunks: Buffer[] = [];
      for await (const c of res.body) chunks.push(c as Buffer);
      try {
        const cfg = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { os?: string; architecture?: string; variant?: string };
        if (cfg.os && cfg.architecture) platforms.push({ architecture: cfg.architecture, os: cfg.os, ...(cfg.variant ? { variant: cfg.variant } : {}) });
      } catch {
        throw new RegistryError('invalid', `image config of ${formatReference(ref)} is not valid JSON`);
      }
    }
    return { Descriptor: { mediaType: m.mediaType, digest: m.digest, size: m.body.length }, Platforms: platforms };
  }

  close(): void {
    for (const h of this.hosts.values()) h.close();
    this.hosts.clear();
  }
}

/** A credentials callback answering `creds` for exactly one registry domain. */
export function credentialsFor(domain: string, creds: Credentials | undefined): (host: string) => Credentials | undefined {
  return (host) => (host === domain ? creds : undefined);
}
