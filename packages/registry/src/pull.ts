/**
 * `docker pull`: resolve the reference to a manifest (through an index for the wanted platform),
 * fetch config and layers (at most `concurrency` at once, blobs the store has are skipped, every
 * byte counted here and verified against the digest by the store's commit, transient failures
 * retried), store them under a lease, unpack each layer into its chain-ID snapshot as soon as it
 * and the layers below it are committed (later ones still downloading), and only then create or
 * move the image record. A pull that fails leaves no record; what it wrote is garbage once its
 * lease is gone.
 */
import { randomBytes } from 'node:crypto';
import { errdefs, span, traced } from '@gantry/linux';
import {
  chainIds,
  familiarReference,
  formatPlatform,
  formatReference,
  hostPlatform,
  isIndex,
  isLayer,
  isManifest,
  parseReference,
  platformMatches,
  referenceLabels,
  type ImageConfig,
  type Descriptor as ImageDescriptor,
  type IndexDoc,
  type ManifestDoc,
  type Platform,
} from '@gantry/oci';
import { isTransient, RegistryError } from './errors';
import { LayerProgress, shortDigest, type ProgressSink } from './progress';
import { Repository, type FetchedManifest } from './repository';
import type { ContainerdStore } from './store';
import { withRetry, type RegistryHost } from './transport';
import { inOrderOfArrival } from './arrivals';

export interface PullOptions {
  platform?: Platform;
  /** Parallel blob downloads (Docker's default is 3). */
  concurrency?: number;
  progress?: ProgressSink;
  /** Abort the pull (the client went away): it fails with kind "cancelled" and leaves no record. */
  signal?: AbortSignal;
  /**
   * When the pull moves the tag off an image no other name holds, keep that image under this
   * name (dockerd keeps it untagged); created before the tag moves, so GC never sees it unheld.
   */
  danglingName?: (manifestDigest: string) => string;
  /**
   * `host` is a mirror of the reference's registry (containerd's registry mirrors): the repository
   * is fetched from it by the same path, and the image keeps the reference's name.
   */
  mirror?: boolean;
}

export interface PullResult {
  /** The normalised name of the image record ("docker.io/library/busybox:latest"). */
  name: string;
  /** The digest the reference resolved to (manifest or index). */
  digest: string;
  mediaType: string;
  size: number;
  /** The image ID: the digest of the config of the chosen platform. */
  id: string;
  /** False when the record already pointed at this digest ("Image is up to date"). */
  updated: boolean;
  /** The target the record had before, when the pull moved it to another image. */
  previous?: { mediaType: string; digest: string; size: number };
}

/** containerd's label naming where a blob came from, used for cross-repository mounts on push. */
export const sourceLabel = (domain: string) => `containerd.io/distribution.source.${domain}`;

function parseJson<T>(m: FetchedManifest | Buffer, what: string): T {
  const b = Buffer.isBuffer(m) ? m : m.body;
  try {
    return JSON.parse(b.toString('utf8')) as T;
  } catch {
    throw new RegistryError('invalid', `${what} is not valid JSON`);
  }
}

export function pullImage(host: RegistryHost, store: ContainerdStore, reference: string, opts: PullOptions = {}): Promise<PullResult> {
  return traced('registry.pull', () => pull(host, store, reference, opts), { reference });
}

async function pull(host: RegistryHost, store: ContainerdStore, reference: string, opts: PullOptions): Promise<PullResult> {
  const sink: ProgressSink = opts.progress ?? (() => undefined);
  const ref = parseReference(reference);
  if (ref.domain !== host.domain && !opts.mirror) throw new RegistryError('invalid', `reference ${reference} is not on registry ${host.domain}`);
  const signal = opts.signal;
  const check = () => {
    if (signal?.aborted) throw new RegistryError('cancelled', `pull of ${reference} cancelled`);
  };
  const platform = opts.platform ?? hostPlatform();
  const repo = new Repository(host, ref.path);
  const name = formatReference(ref);
  const shown = familiarReference(name);

  // resolved before the first message: an unknown tag is then an ordinary error response, as dockerd's
  const top = await traced('registry.pull.manifest', () => repo.getManifest(ref.digest ?? ref.tag!));
  sink({ status: `Pulling from ${ref.path}`, id: ref.tag ?? ref.digest! });

  // the manifest for the platform
  const docs: { digest: string; body: Buffer; labels: Record<string, string> }[] = [];
  let manifest: FetchedManifest = top;
  if (isIndex(top.mediaType)) {
    const index = parseJson<IndexDoc>(top, `index ${top.digest}`);
    if (!Array.isArray(index.manifests)) throw new RegistryError('invalid', `index ${top.digest} has no manifests`);
    const entry = index.manifests.find((m) => isManifest(m.mediaType) && platformMatches(m.platform, platform));
    if (!entry) throw new RegistryError('platform', `no matching manifest for ${formatPlatform(platform)} in the manifest list entries`);
    manifest = await repo.getManifest(entry.digest);
    if (manifest.body.length !== entry.size)
      throw new RegistryError('digest', `manifest ${entry.digest}: size ${manifest.body.length}, the index says ${entry.size}`);
    docs.push({ digest: top.digest, body: top.body, labels: { ...referenceLabels(index), [sourceLabel(ref.domain)]: ref.path } });
  } else if (!isManifest(top.mediaType)) {
    throw new RegistryError('invalid', `unsupported manifest media type ${top.mediaType}`);
  }
  const doc = parseJson<ManifestDoc>(manifest, `manifest ${manifest.digest}`);
  if (!doc.config || !Array.isArray(doc.layers)) throw new RegistryError('invalid', `manifest ${manifest.digest} has no config or layers`);
  for (const l of doc.layers) if (!isLayer(l.mediaType)) throw new RegistryError('invalid', `unsupported layer media type ${l.mediaType}`);
  docs.unshift({ digest: manifest.digest, body: manifest.body, labels: { ...referenceLabels(doc), [sourceLabel(ref.domain)]: ref.path } });

  const lease = await store.createLease(`pull-${Date.now()}-${randomBytes(4).toString('hex')}`);
  const leased = store.withLease(lease);
  try {
    // the config first (it says which layers to expect and lets the platform be checked)
    const configBuf = await traced('registry.pull.config', () => fetchSmall(repo, leased, doc.config, { [sourceLabel(ref.domain)]: ref.path }));
    const config = parseJson<ImageConfig & { os?: string; architecture?: string; variant?: string }>(configBuf, `image config ${doc.config.digest}`);
    if (
      opts.platform &&
      !isIndex(top.mediaType) &&
      config.os &&
      config.architecture &&
      !platformMatches({ os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) }, platform)
    ) {
      const actual = `${config.os}/${config.architecture}${config.variant ? `/${config.variant}` : ''}`;
      throw new RegistryError(
        'platform',
        `image with reference ${shown} was found but its platform (${actual}) does not match the specified platform (${formatPlatform(platform)})`,
      );
    }
    const diffIds = config.rootfs?.diff_ids ?? [];
    if (diffIds.length !== doc.layers.length)
      throw new RegistryError('invalid', `image config lists ${diffIds.length} layers but the manifest has ${doc.layers.length}`);
    const chain = chainIds(diffIds);

    // layers: those unpacked already need no download at all
    const present = await Promise.all(chain.map((c) => leased.snapshotExists(c)));
    for (let i = 0; i < doc.layers.length; i++)
      sink({ status: present[i] ? 'Already exists' : 'Pulling fs layer', progressDetail: {}, id: shortDigest(doc.layers[i]!.digest) });
    const todo = doc.layers.filter((_, i) => !present[i]);
    const unique = [...new Map(todo.map((l) => [l.digest, l])).values()];
    for (const l of unique.slice(opts.concurrency ?? 3)) sink({ status: 'Waiting', progressDetail: {}, id: shortDigest(l.digest) });
    check();
    // downloads run `concurrency` at a time while layers unpack in order, each as soon as it and
    // its parents are in: unpacking overlaps the downloads still running
    const stop = new AbortController(); // an unpack failed: the downloads still running stop
    const dlSignal = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
    const downloads = inOrderOfArrival(opts.concurrency ?? 3, unique, (l) => {
      if (dlSignal.aborted) throw new RegistryError('cancelled', `pull of ${reference} cancelled`);
      return fetchLayer(repo, leased, l, sink, ref.domain, ref.path, dlSignal);
    });
    let parent = '';
    try {
      for (let i = 0; i < doc.layers.length; i++) {
        const l = doc.layers[i]!;
        if (!present[i]) await downloads.ready(l.digest);
        check();
        // not asked again whether the snapshot exists (a call on the critical path, behind the
        // daemon's busy Content Writes): a concurrent pull that committed it first makes this
        // one's commit answer ALREADY_EXISTS, which unpackLayer takes as done
        if (!present[i]) {
          sink({ status: 'Extracting', progressDetail: { current: 0, total: l.size }, id: shortDigest(l.digest) });
          await traced('registry.pull.unpack', () => leased.unpackLayer(l, parent, chain[i]!, diffIds[i]!), { digest: l.digest, bytes: l.size });
          sink({ status: 'Extracting', progressDetail: { current: l.size, total: l.size }, id: shortDigest(l.digest) });
          sink({ status: 'Pull complete', progressDetail: {}, id: shortDigest(l.digest) });
        }
        parent = chain[i]!;
      }
    } catch (e) {
      stop.abort();
      await downloads.settled.catch(() => undefined); // nothing writes under the lease once it goes
      throw e;
    }
    await downloads.settled;
    check();
    if (parent) await leased.setLabels(doc.config.digest, { 'containerd.io/gc.ref.snapshot.overlayfs': parent });

    // manifest (and index) last: their GC labels then point at blobs that exist
    check();
    const recording = span('registry.pull.record');
    for (const d of docs) await leased.writeBlob({ digest: d.digest }, d.body, d.labels);
    const old = (await leased.getImage(name))?.target;
    if (old && old.digest !== top.digest && opts.danglingName) {
      const held = (await leased.listImages()).some((i) => i.name !== name && i.target?.digest === old.digest);
      if (!held) await leased.putImage(opts.danglingName(old.digest), { mediaType: old.mediaType, digest: old.digest, size: Number(old.size) });
    }
    const before = await leased.putImage(name, { mediaType: top.mediaType, digest: top.digest, size: top.body.length });
    const updated = before !== top.digest;
    const previous = old && updated ? { mediaType: old.mediaType, digest: old.digest, size: Number(old.size) } : undefined;
    recording.end();
    sink({ status: `Digest: ${top.digest}` });
    sink({ status: updated ? `Status: Downloaded newer image for ${shown}` : `Status: Image is up to date for ${shown}` });
    return { name, digest: top.digest, mediaType: top.mediaType, size: top.body.length, id: doc.config.digest, updated, ...(previous ? { previous } : {}) };
  } finally {
    await store.deleteLease(lease).catch(() => undefined);
  }
}

/** A config-sized blob, verified, stored (or read back when the store has it). */
async function fetchSmall(repo: Repository, store: ContainerdStore, d: ImageDescriptor, labels: Record<string, string>): Promise<Buffer> {
  if (await store.info(d.digest)) return store.readAll(d.digest);
  const body = await withRetry(async () => {
    const res = await repo.openBlob(d.digest);
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const c of res.body) {
      n += (c as Buffer).length;
      if (n > Math.max(d.size, 1) || n > 8 * 1024 * 1024)
        throw new RegistryError('digest', `blob ${d.digest} is larger than the ${d.size} bytes its descriptor says`);
      chunks.push(c as Buffer);
    }
    return Buffer.concat(chunks);
  }, repo.host.retryOpts());
  await store.writeBlob(d, body, labels);
  return body;
}

/**
 * The content store's refusal to commit an ingest whose bytes hash to another digest
 * (FAILED_PRECONDITION "unexpected commit digest <got>, expected <want>") as Docker words it; the
 * size was checked before the commit, so that is the only precondition left.
 */
function digestMismatch(want: string, e: unknown): RegistryError | undefined {
  if (!errdefs.isFailedPrecondition(e)) return undefined;
  const got = /unexpected commit digest (sha256:[0-9a-f]{64})/.exec((e as Error).message)?.[1];
  return Object.assign(new RegistryError('digest', `filesystem layer verification failed for digest ${want}: ${got ? `got ${got}` : (e as Error).message}`), {
    cause: e,
  });
}

/** Download one layer into the content store (the size counted here, the digest verified by the store at commit), retrying transient failures from the start. */
async function fetchLayer(
  repo: Repository,
  store: ContainerdStore,
  l: ImageDescriptor,
  sink: ProgressSink,
  domain: string,
  path: string,
  signal?: AbortSignal,
): Promise<void> {
  const id = shortDigest(l.digest);
  const labels = { [sourceLabel(domain)]: path };
  const have = await store.info(l.digest);
  if (have) {
    const cur = (have.labels[sourceLabel(domain)] ?? '').split(',').filter((x) => x !== '');
    if (!cur.includes(path)) await store.setLabels(l.digest, { [sourceLabel(domain)]: [...cur, path].join(',') }).catch(() => undefined);
    sink({ status: 'Download complete', progressDetail: {}, id });
    return;
  }
  const progress = new LayerProgress(sink, id, 'Downloading', l.size);
  const layerSpan = span('registry.pull.layer', { digest: l.digest, bytes: l.size });
  await withRetry(
    async () => {
      const ref = `pull-${l.digest}-${randomBytes(3).toString('hex')}`;
      const writer = await store.openWriter(ref, l.digest, l.size);
      if (!writer) return;
      let done = false;
      try {
        const res = await repo.openBlob(l.digest);
        const cancelled = () => new RegistryError('cancelled', `download of ${l.digest} cancelled`);
        const onAbort = () => res.body.destroy(cancelled());
        if (signal?.aborted) onAbort();
        signal?.addEventListener('abort', onAbort, { once: true });
        let n = 0;
        const downloading = span('registry.pull.download', { digest: l.digest, bytes: l.size });
        let waitHttp = 0;
        let waitStore = 0;
        let chunks = 0;
        try {
          let t = performance.now();
          for await (const c of res.body) {
            const t1 = performance.now();
            waitHttp += t1 - t;
            const chunk = c as Buffer;
            n += chunk.length;
            if (n > l.size) throw new RegistryError('digest', `layer ${l.digest} is larger than the ${l.size} bytes its descriptor says`);
            const t2 = performance.now();
            await writer.write(chunk);
            t = performance.now();
            waitStore += t - t2;
            progress.update(n);
            chunks++;
          }
        } catch (e) {
          downloading.end({ got: n, error: (e as Error).message });
          if (signal?.aborted) throw cancelled();
          if (e instanceof RegistryError) throw e;
          // the body broke off: a transient failure, the attempt starts again
          throw Object.assign(new RegistryError('transport', `downloading ${l.digest}: ${(e as Error).message}`), { cause: e });
        }
        signal?.removeEventListener('abort', onAbort);
        downloading.end({ got: n, chunks, waitHttpMs: Math.round(waitHttp), waitStoreMs: Math.round(waitStore) });
        if (n !== l.size) throw new RegistryError('transport', `layer ${l.digest}: connection closed after ${n} of ${l.size} bytes`);
        progress.update(n, true);
        sink({ status: 'Verifying Checksum', progressDetail: {}, id });
        // the content store hashes what it is sent and commits only the expected digest: hashing
        // here too would only spend this process's CPU on the same bytes a second time
        await traced('registry.pull.commit', () => writer.commit(labels), { digest: l.digest }).catch((e: unknown) => {
          throw digestMismatch(l.digest, e) ?? e;
        });
        done = true;
      } finally {
        if (!done) {
          writer.cancel();
          await store.abort(ref);
        }
      }
    },
    {
      ...repo.host.retryOpts(),
      onRetry: (e) => sink({ status: `Retrying in a moment: ${isTransient(e) ? (e as Error).message : 'error'}`, progressDetail: {}, id }),
    },
  ).finally(() => layerSpan.end());
  sink({ status: 'Download complete', progressDetail: {}, id });
}
