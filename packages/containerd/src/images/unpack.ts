/**
 * Unpacking an image into snapshots: one committed snapshot per layer, named by its chain ID
 * (sha256 over the parent chain ID and the layer's diff ID, as the OCI image spec defines), each
 * prepared on its parent, the layer applied into it, checked against the config's diff ID and
 * committed. Layers already unpacked (by any image) are reused. The image config is labelled
 * with the top snapshot so garbage collection keeps the chain while the image exists.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { KindError, type Sys } from '@gantry/linux';
import type { ContentStore } from '../content/types';
import { LayerError } from '@gantry/archive';
import { layerErrorKind } from '../diff/error-code';
import { failedPrecondition } from '../errors';
import { mountAll, unmount } from '../snapshots/mount';
import type { Snapshotter } from '../snapshots/types';
import { chainIds, type ImageConfig, type ManifestDoc } from '@gantry/oci';

export interface UnpackDeps {
  content: ContentStore;
  snapshotter: Snapshotter;
  sys: Pick<Sys, 'mount' | 'umount' | 'statfs' | 'mountSetattr'>;
  /** Apply one (possibly gzipped) layer tar of `compressedSize` bytes into a directory; returns the uncompressed digest. */
  applyLayer(layer: Readable, target: string, compressedSize: number): Promise<{ digest: string; size: number }>;
}

function exists(s: Snapshotter, ns: string, key: string): boolean {
  try {
    s.stat(ns, key);
    return true;
  } catch {
    return false;
  }
}

/** Unpack `manifest` (with its parsed `config`); returns the chain ID of the top layer. */
export async function unpackImage(deps: UnpackDeps, ns: string, manifest: ManifestDoc, config: ImageConfig): Promise<string> {
  const chain = chainIds(config.rootfs.diff_ids);
  let parent = '';
  for (let i = 0; i < chain.length; i++) {
    const chainId = chain[i]!;
    if (!exists(deps.snapshotter, ns, chainId)) {
      const key = `extract-${randomBytes(6).toString('hex')} ${chainId}`;
      const mounts = deps.snapshotter.prepare(ns, key, parent, { 'containerd.io/snapshot.ref': chainId });
      const target = fs.mkdtempSync(path.join(os.tmpdir(), 'gantry-unpack-'));
      let committed = false;
      try {
        mountAll(deps.sys, mounts, target);
        let applied: { digest: string };
        try {
          applied = await deps.applyLayer(deps.content.read(ns, manifest.layers[i]!.digest), target, manifest.layers[i]!.size);
        } catch (e) {
          if (e instanceof LayerError) throw new KindError(layerErrorKind(e), `failed to unpack layer ${manifest.layers[i]!.digest}: ${e.message}`);
          throw e;
        } finally {
          unmount(deps.sys, target);
        }
        if (applied.digest !== config.rootfs.diff_ids[i]) {
          throw failedPrecondition(`layer ${manifest.layers[i]!.digest} unpacks to ${applied.digest}, the image config says ${config.rootfs.diff_ids[i]}`);
        }
        deps.snapshotter.commit(ns, chainId, key);
        committed = true;
      } finally {
        fs.rmSync(target, { recursive: true, force: true });
        if (!committed) {
          try {
            deps.snapshotter.remove(ns, key);
          } catch {
            // never created
          }
        }
      }
    }
    parent = chainId;
  }
  const top = chain[chain.length - 1] ?? '';
  if (top) {
    const label = `containerd.io/gc.ref.snapshot.${deps.snapshotter.name}`;
    deps.content.update(ns, { digest: manifest.config.digest, labels: { [label]: top } }, [`labels.${label}`]);
  }
  return top;
}
