/**
 * The distribution API of one repository: manifests (GET/HEAD/PUT by tag or digest), blobs
 * (GET, HEAD), uploads (POST, PATCH, PUT, and cross-repository mounts).
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { MediaType } from '@gantry/oci';
import { repositoryScope } from './auth';
import { RegistryError } from './errors';
import { readBody, withRetry, type RegistryHost, type RegistryResponse } from './transport';

/** What a pull accepts, as Docker sends it (schema 2, manifest lists, OCI manifests and indexes). */
export const MANIFEST_ACCEPT = [MediaType.dockerManifest, MediaType.dockerManifestList, MediaType.ociManifest, MediaType.ociIndex].join(', ');

export interface FetchedManifest {
  mediaType: string;
  digest: string;
  body: Buffer;
}

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export class Repository {
  constructor(
    readonly host: RegistryHost,
    /** Repository path, e.g. "library/busybox". */
    readonly path: string,
    private readonly actions: readonly string[] = ['pull'],
  ) {}

  get scopes(): string[] {
    return [repositoryScope(this.path, this.actions)];
  }

  private retry<T>(fn: () => Promise<T>): Promise<T> {
    return withRetry(fn, this.host.retryOpts());
  }

  /** The manifest or index `reference` (tag or digest) names; a digest reference is verified. */
  async getManifest(reference: string): Promise<FetchedManifest> {
    return this.retry(async () => {
      const res = await this.host
        .request({ method: 'GET', path: `/v2/${this.path}/manifests/${reference}`, headers: { Accept: MANIFEST_ACCEPT }, scopes: this.scopes, expect: [200] })
        .catch((e: unknown) => {
          if (e instanceof RegistryError && e.kind === 'not-found')
            throw new RegistryError(
              'not-found',
              `manifest for ${this.host.domain}/${this.path}:${reference} not found: ${e.message.includes('manifest unknown') ? e.message : 'manifest unknown: manifest unknown'}`,
              404,
            );
          throw e;
        });
      const body = await readBody(res.body, 4 * 1024 * 1024);
      const digest = sha256(body);
      if (reference.includes(':') && reference !== digest)
        throw new RegistryError('digest', `manifest verification failed for digest ${reference}: got ${digest}`);
      const header = res.headers['docker-content-digest'];
      if (typeof header === 'string' && header.startsWith('sha256:') && header !== digest && !reference.includes(':')) {
        throw new RegistryError('digest', `manifest for ${this.path}:${reference}: registry says ${header}, the content is ${digest}`);
      }
      let mediaType = (res.headers['content-type'] ?? '').split(';')[0]!.trim();
      try {
        const parsed = JSON.parse(body.toString('utf8')) as { mediaType?: string; manifests?: unknown; config?: unknown };
        if (parsed.mediaType) mediaType = parsed.mediaType;
        else if (!mediaType || mediaType === 'application/json') mediaType = parsed.manifests ? MediaType.ociIndex : MediaType.ociManifest;
      } catch {
        throw new RegistryError('invalid', `manifest ${reference} of ${this.path} is not valid JSON`);
      }
      return { mediaType, digest, body };
    });
  }

  async putManifest(reference: string, mediaType: string, body: Buffer): Promise<string> {
    return this.retry(async () => {
      const res = await this.host.request({
        method: 'PUT',
        path: `/v2/${this.path}/manifests/${reference}`,
        headers: { 'Content-Type': mediaType },
        body,
        scopes: this.scopes,
        expect: [200, 201, 202],
      });
      res.body.resume();
      return (res.headers['docker-content-digest'] as string | undefined) ?? sha256(body);
    });
  }

  /** The blob's size when the registry has it. */
  async statBlob(digest: string): Promise<number | undefined> {
    return this.retry(async () => {
      const res = await this.host.request({ method: 'HEAD', path: `/v2/${this.path}/blobs/${digest}`, scopes: this.scopes, expect: [200, 404] });
      res.body.resume();
      return res.status === 200 ? Number(res.headers['content-length'] ?? 0) : undefined;
    });
  }

  /** An open download of the blob (the caller verifies the bytes). */
  openBlob(digest: string, offset = 0): Promise<RegistryResponse> {
    return this.host.request({
      method: 'GET',
      path: `/v2/${this.path}/blobs/${digest}`,
      headers: offset > 0 ? { Range: `bytes=${offset}-` } : {},
      scopes: this.scopes,
      expect: offset > 0 ? [200, 206] : [200],
    });
  }

  /**
   * Mount `digest` from repository `from` on the same registry: true when mounted; otherwise the
   * upload the registry started instead (its location).
   */
  async mountBlob(digest: string, from: string): Promise<true | string> {
    return this.retry(async () => {
      const res = await this.host.request({
        method: 'POST',
        path: `/v2/${this.path}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`,
        scopes: [...this.scopes, repositoryScope(from, ['pull'])],
        body: Buffer.alloc(0),
        expect: [201, 202],
      });
      res.body.resume();
      if (res.status === 201) return true;
      return this.location(res);
    });
  }

  private location(res: RegistryResponse): string {
    const loc = res.headers.location;
    if (!loc) throw new RegistryError('protocol', `registry ${this.host.domain} started an upload without a Location`);
    return new URL(loc, res.url).toString();
  }

  async startUpload(): Promise<string> {
    return this.retry(async () => {
      const res = await this.host.request({
        method: 'POST',
        path: `/v2/${this.path}/blobs/uploads/`,
        body: Buffer.alloc(0),
        scopes: this.scopes,
        expect: [202],
      });
      res.body.resume();
      return this.location(res);
    });
  }

  private withDigest(location: string, digest: string): string {
    const u = new URL(location);
    u.searchParams.set('digest', digest);
    return u.toString();
  }

  /** Monolithic upload: one PUT with the whole blob. */
  async putBlob(location: string, digest: string, size: number, open: () => Readable): Promise<void> {
    const res = await this.host.request({
      method: 'PUT',
      path: this.withDigest(location, digest),
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) },
      body: open,
      scopes: this.scopes,
      expect: [201, 204],
    });
    res.body.resume();
  }

  /** One PATCH of a chunked upload; returns the next location. */
  async patchChunk(location: string, offset: number, chunk: Buffer): Promise<string> {
    const res = await this.host.request({
      method: 'PATCH',
      path: location,
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${offset}-${offset + chunk.length - 1}` },
      body: chunk,
      scopes: this.scopes,
      expect: [202, 204],
    });
    res.body.resume();
    return res.headers.location ? this.location(res) : location;
  }

  /** Close a chunked upload. */
  async finishUpload(location: string, digest: string): Promise<void> {
    const res = await this.host.request({
      method: 'PUT',
      path: this.withDigest(location, digest),
      headers: { 'Content-Length': '0' },
      body: Buffer.alloc(0),
      scopes: this.scopes,
      expect: [201, 204],
    });
    res.body.resume();
  }
}
