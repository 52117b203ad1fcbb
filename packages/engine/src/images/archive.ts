/**
 * Moving image archives through gantry-containerd's Archives service (Import with unpack, Export),
 * and building the one-layer OCI image layout `docker import` sends through it.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { archives } from '@gantry/api';
import { hostPlatform } from '@gantry/oci';
import { ByteSource, decompressed, detectCompression, ExpansionError, LAYER_RATIO, readTar, TarFormatError, type ExpansionLimits } from '@gantry/archive';
import { errdefs } from '@gantry/linux';
import type { Containerd } from '../containerd/client';
import type { OciContainerConfig, OciImageConfig } from './catalog';

/** Send `chunks` (a tar, possibly gzipped) to Archives.Import with unpack; the images it created. */
export async function importArchive(cd: Containerd, chunks: AsyncIterable<Buffer>, opts: { name?: string } = {}): Promise<archives.ImportedImage[]> {
  // a stream of unbounded length has no deadline: wait (bounded) for gantry-containerd first, then
  // let the call fail at once if the connection goes
  await cd.ready();
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (err: unknown, res?: archives.ImportResponse) => {
      if (settled) return;
      settled = true;
      if (err)
        reject(err instanceof Error && 'code' in err ? errdefs.fromGrpc(err) : (err as Error)); // gRPC errors, or what reading `chunks` threw
      else resolve(res?.images ?? []);
    };
    const call = cd.archives.import(cd.metadata(false), (err, res) => finish(err, res));
    void (async () => {
      try {
        call.write(archives.ImportRequest.fromPartial({ name: opts.name ?? '', unpack: true }));
        for await (const c of chunks) {
          if (settled) return;
          if (c.length === 0) continue;
          if (!call.write(archives.ImportRequest.fromPartial({ data: c }))) await once(call, 'drain');
        }
        call.end();
      } catch (e) {
        call.cancel();
        finish(e);
      }
    })();
  });
}

/** Archives.Export of `names` (full references), written to `out` once the first bytes are there. */
export async function exportArchive(
  cd: Containerd,
  names: string[],
  onStart: () => void,
  write: (b: Buffer) => Promise<void>,
  signal: { aborted: boolean; onAbort(fn: () => void): void },
): Promise<void> {
  await cd.ready();
  const call = cd.archives.export(archives.ExportRequest.fromPartial({ names }), cd.metadata(false));
  signal.onAbort(() => call.cancel());
  let started = false;
  try {
    for await (const m of call as AsyncIterable<archives.ExportResponse>) {
      if (!started) {
        started = true;
        onStart();
      }
      await write(m.data);
    }
  } catch (e) {
    if (signal.aborted) return;
    throw started ? e : errdefs.fromGrpc(e);
  }
  if (!started) onStart();
}

// --- a minimal ustar writer (names here are short: "blobs/sha256/<64 hex>") ---

function tarHeader(name: string, size: number, type: '0' | '5', mtime: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write(`${(type === '5' ? 0o755 : 0o644).toString(8).padStart(7, '0')}\0`, 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  h.write(`${mtime.toString(8).padStart(11, '0')}\0`, 136);
  h.write('        ', 148);
  h.write(type, 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return h;
}

const pad = (n: number) => Buffer.alloc((512 - (n % 512)) % 512);

/** Whether the first 512 bytes are a tar header (checksum) or the end-of-archive zero block. */
function looksLikeTar(block: Buffer): boolean {
  if (block.length < 512) return false;
  if (block.subarray(0, 512).every((b) => b === 0)) return true;
  const stored = parseInt(block.subarray(148, 156).toString('latin1').replace(/\0.*$/s, '').trim(), 8);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : block[i]!;
  return stored === sum;
}

export interface LayerFile {
  file: string;
  digest: string;
  size: number;
  diffId: string;
  gzip: boolean;
}

/**
 * Spool a rootfs tarball (plain or gzipped) to `file`, computing its digest and size and the
 * digest of the uncompressed tar (the diff ID). Refuses what is not a tar (400), and a gzip stream
 * that is truncated, corrupt, not a valid tar or a decompression bomb (past `limits`: the sane
 * 200:1 ratio of the whole file). The inflating is a second pass over the spooled file, so
 * nothing inflated is held or written.
 */
export async function spoolLayer(input: Readable, file: string, limits: ExpansionLimits = LAYER_RATIO): Promise<LayerFile> {
  const hash = createHash('sha256');
  let size = 0;
  let head = Buffer.alloc(0);
  await pipeline(
    input,
    async function* (src: AsyncIterable<Buffer>) {
      for await (const c of src) {
        hash.update(c);
        size += c.length;
        if (head.length < 512) head = Buffer.concat([head, c.subarray(0, 512 - head.length)]);
        yield c;
      }
    },
    fs.createWriteStream(file, { mode: 0o600 }),
  );
  const digest = `sha256:${hash.digest('hex')}`;
  const gzip = head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
  let diffId = digest;
  let plainHead = head;
  if (gzip) {
    // walked as a tar: a member declaring more than the layer may expand to is refused at its header
    const diff = createHash('sha256');
    plainHead = Buffer.alloc(0);
    const src = new ByteSource(decompressed(fs.createReadStream(file), { ...limits, compressedSize: size }, 'layers'), (c) => {
      if (plainHead.length < 512) plainHead = Buffer.concat([plainHead, c.subarray(0, 512 - plainHead.length)]);
      diff.update(c);
    });
    try {
      for await (const _ of readTar(src)) {
        // bodies are skipped (and hashed)
      }
      await src.drain();
    } catch (e) {
      if (e instanceof ExpansionError) throw errdefs.invalidArgument(e.message.startsWith('gzip:') ? `invalid gzip stream: ${e.message.slice(6)}` : e.message);
      if (e instanceof TarFormatError)
        throw errdefs.invalidArgument(looksLikeTar(plainHead) ? `invalid tar archive: ${e.message}` : 'the imported file is not a tar archive');
      throw e;
    }
    diffId = `sha256:${diff.digest('hex')}`;
  } else if (detectCompression(head) !== 'none') {
    throw errdefs.invalidArgument('unsupported compression: only plain and gzipped tarballs can be imported');
  }
  if (!looksLikeTar(plainHead)) throw errdefs.invalidArgument('the imported file is not a tar archive');
  return { file, digest, size, diffId, gzip };
}

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export interface BuiltImage {
  configDigest: string;
  manifestDigest: string;
  manifestSize: number;
  config: Buffer;
  manifest: Buffer;
}

/** The config and manifest of a one-layer image made from `layer`. */
export function buildImage(layer: LayerFile, containerConfig: OciContainerConfig, comment: string, created: Date): BuiltImage {
  const host = hostPlatform();
  const cfg: OciImageConfig = {
    created: created.toISOString(),
    architecture: host.architecture,
    ...(host.variant ? { variant: host.variant } : {}),
    os: host.os,
    config: containerConfig,
    rootfs: { type: 'layers', diff_ids: [layer.diffId] },
    history: [{ created: created.toISOString(), created_by: '', comment }],
  };
  const config = Buffer.from(JSON.stringify(cfg));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
      layers: [
        {
          mediaType: layer.gzip ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.oci.image.layer.v1.tar',
          digest: layer.digest,
          size: layer.size,
        },
      ],
    }),
  );
  return { configDigest: sha(config), manifestDigest: sha(manifest), manifestSize: manifest.length, config, manifest };
}

/** The OCI image layout (tarred) of `img` named `name`, as chunks. */
export async function* ociLayout(layer: LayerFile, img: BuiltImage, name: string): AsyncGenerator<Buffer> {
  const mtime = Math.floor(Date.now() / 1000);
  const file = function* (n: string, data: Buffer): Generator<Buffer> {
    yield tarHeader(n, data.length, '0', mtime);
    yield data;
    yield pad(data.length);
  };
  const blob = (d: string) => `blobs/sha256/${d.slice('sha256:'.length)}`;
  yield* file('oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })));
  yield tarHeader('blobs/', 0, '5', mtime);
  yield tarHeader('blobs/sha256/', 0, '5', mtime);
  yield tarHeader(blob(layer.digest), layer.size, '0', mtime);
  for await (const c of fs.createReadStream(layer.file)) yield c as Buffer;
  yield pad(layer.size);
  yield* file(blob(img.configDigest), img.config);
  yield* file(blob(img.manifestDigest), img.manifest);
  const index = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: img.manifestDigest,
        size: img.manifestSize,
        annotations: { 'io.containerd.image.name': name },
      },
    ],
  };
  yield* file('index.json', Buffer.from(JSON.stringify(index)));
  yield Buffer.alloc(1024);
}

export function tempPath(dataRoot: string, prefix: string): string {
  const dir = path.join(dataRoot, 'tmp');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  return path.join(dir, `${prefix}-${process.pid}-${Date.now()}-${Math.random().toString(16).slice(2)}`);
}
