/**
 * Push an image straight through a registry's HTTP API (distribution spec: POST an upload, PUT
 * the blob with its digest, PUT the manifest), with no daemon in between, so a test can publish
 * a layer no daemon would produce. Blobs come from generators and are streamed twice (once to
 * learn digest, size and diff ID, once to upload), never held whole in memory.
 */
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import { createGunzip, type Gunzip } from 'node:zlib';

export type Chunks = () => AsyncIterable<Buffer>;

export interface BlobRef {
  digest: string;
  size: number;
}

/**
 * Digest and size of a blob and, in the same pass, the sha256 of its uncompressed stream (the
 * diff ID; gzip detected by its magic). A stream that does not inflate to its end (truncated
 * gzip) gets the digest of what did inflate: the config stays well formed.
 */
async function measure(src: Chunks): Promise<BlobRef & { gzip: boolean; diffId: string }> {
  const blob = createHash('sha256');
  const plain = createHash('sha256');
  let size = 0;
  let gunzip: Gunzip | undefined;
  let ended: Promise<void> = Promise.resolve();
  for await (const c of src()) {
    if (size === 0 && c[0] === 0x1f && c[1] === 0x8b) {
      const g = createGunzip();
      g.on('data', (d: Buffer) => plain.update(d));
      ended = new Promise<void>((resolve) => g.on('end', resolve).on('error', () => resolve()));
      gunzip = g;
    }
    blob.update(c);
    size += c.length;
    if (!gunzip) plain.update(c);
    else if (!gunzip.destroyed && !gunzip.write(c)) {
      const g = gunzip;
      await new Promise<void>((r) => {
        const done = () => {
          g.off('drain', done).off('close', done);
          r();
        };
        g.on('drain', done).on('close', done);
      });
    }
  }
  gunzip?.end();
  await ended;
  return { digest: `sha256:${blob.digest('hex')}`, size, gzip: !!gunzip, diffId: `sha256:${plain.digest('hex')}` };
}

function call(
  url: URL,
  method: string,
  headers: http.OutgoingHttpHeaders,
  body?: Chunks,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    void (async () => {
      try {
        if (body) {
          for await (const c of body()) {
            if (!req.write(c)) await new Promise<void>((r) => req.once('drain', r));
          }
        }
        req.end();
      } catch (err) {
        req.destroy(err as Error);
      }
    })();
  });
}

/** Upload one blob (monolithic upload: POST for a session, then one PUT with the digest). */
export async function pushBlob(host: string, name: string, src: Chunks, ref: BlobRef): Promise<void> {
  const base = new URL(`http://${host}/v2/${name}/blobs/uploads/`);
  const start = await call(base, 'POST', { 'Content-Length': 0 });
  if (start.status !== 202 || !start.headers.location) throw new Error(`POST ${base.href}: ${start.status} ${start.body}`);
  const put = new URL(start.headers.location, base);
  put.searchParams.set('digest', ref.digest);
  const done = await call(put, 'PUT', { 'Content-Type': 'application/octet-stream', 'Content-Length': ref.size }, src);
  if (done.status !== 201) throw new Error(`PUT ${put.pathname}: ${done.status} ${done.body}`);
}

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

/**
 * Publish `host/name:tag`: an OCI image whose only layer is `layer` (media type tar+gzip or tar
 * by its magic), with a valid config whose diff ID is that of the layer's uncompressed bytes.
 * Returns the layer blob's digest and size.
 */
export async function pushSingleLayerImage(host: string, name: string, tag: string, layer: Chunks): Promise<BlobRef> {
  const l = await measure(layer);
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  const config = Buffer.from(JSON.stringify({ architecture: arch, os: 'linux', config: { Cmd: ['true'] }, rootfs: { type: 'layers', diff_ids: [l.diffId] } }));
  const configRef = await measure(async function* () {
    yield config;
  });
  await pushBlob(
    host,
    name,
    async function* () {
      yield config;
    },
    configRef,
  );
  await pushBlob(host, name, layer, l);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configRef.digest, size: configRef.size },
      layers: [{ mediaType: `application/vnd.oci.image.layer.v1.tar${l.gzip ? '+gzip' : ''}`, digest: l.digest, size: l.size }],
    }),
  );
  const url = new URL(`http://${host}/v2/${name}/manifests/${tag}`);
  const r = await call(url, 'PUT', { 'Content-Type': OCI_MANIFEST, 'Content-Length': manifest.length }, async function* () {
    yield manifest;
  });
  if (r.status !== 201) throw new Error(`PUT ${url.pathname}: ${r.status} ${r.body}`);
  return { digest: l.digest, size: l.size };
}
