/**
 * The image store the image routes use: the catalog (images/catalog.ts) plus writes to
 * gantry-containerd's image records and its archive import/export. One per daemon, so the
 * catalog's cache is shared by every route.
 */
import type { images } from '@gantry/api';
import { errdefs } from '@gantry/linux';
import type { ImageStore } from '../backend/images';
import type { Containerd } from '../containerd/client';
import { exportArchive, importArchive } from './archive';
import { ImageCatalog } from './catalog';

type Target = NonNullable<images.Image['target']>;

async function grpc<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    throw errdefs.fromGrpc(e);
  }
}

export class ImageService extends ImageCatalog implements ImageStore {
  constructor(private readonly client: Containerd) {
    super(client);
  }

  async deleteRecord(name: string, sync: boolean): Promise<void> {
    const cd = this.client;
    try {
      await cd.call(cd.images, cd.images.delete, { name, sync });
    } catch (e) {
      const err = errdefs.fromGrpc(e);
      if (err.kind !== 'not-found') throw err;
    }
  }

  async createRecord(name: string, target: Target): Promise<void> {
    const cd = this.client;
    try {
      await cd.call(cd.images, cd.images.create, { image: { name, labels: {}, target } });
    } catch (e) {
      const err = errdefs.fromGrpc(e);
      if (err.kind !== 'already-exists' && err.kind !== 'failed-precondition' && err.kind !== 'aborted') throw err;
    }
  }

  async setRecord(name: string, target: Target): Promise<Target | undefined> {
    const cd = this.client;
    try {
      const cur = await cd.call(cd.images, cd.images.get, { name });
      if (cur.image?.target?.digest === target.digest) return cur.image.target;
      await grpc(cd.call(cd.images, cd.images.update, { image: { name, labels: cur.image?.labels ?? {}, target }, updateMask: ['target'] }));
      return cur.image?.target;
    } catch (e) {
      const err = errdefs.fromGrpc(e);
      if (err.kind !== 'not-found') throw err;
      await grpc(cd.call(cd.images, cd.images.create, { image: { name, labels: {}, target } }));
      return undefined;
    }
  }

  load(chunks: AsyncIterable<Buffer>) {
    return importArchive(this.client, chunks);
  }

  save(names: string[], onStart: () => void, write: (b: Buffer) => Promise<void>, signal: { aborted: boolean; onAbort(fn: () => void): void }): Promise<void> {
    return exportArchive(this.client, names, onStart, write, signal);
  }
}
