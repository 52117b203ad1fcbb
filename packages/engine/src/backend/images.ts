/**
 * What the image routes (routes/images.ts, and the images of GET /system/df) call: the daemon
 * hands them one ImageService (images/service.ts) over gantry-containerd. Types only.
 */
import type { archives, images } from '@gantry/api';
import type { ImageCatalog } from '../images/catalog';

type Target = NonNullable<images.Image['target']>;

/** The image store: the catalog's reads (cached until `forget`), its records' writes, archives. */
export interface ImageStore extends Pick<ImageCatalog, 'records' | 'entries' | 'resolve' | 'layerSizes' | 'size' | 'manifestOf' | 'forget'> {
  /** Delete record `name` (absent already is fine); `sync`: wait for the garbage collection. */
  deleteRecord(name: string, sync: boolean): Promise<void>;
  /** Create record `name` unless one exists. */
  createRecord(name: string, target: Target): Promise<void>;
  /** Point `name` at `target`, creating the record or moving it. Returns the target it had before. */
  setRecord(name: string, target: Target): Promise<Target | undefined>;
  /** Import an image archive (docker load, docker import's layout). */
  load(chunks: AsyncIterable<Buffer>): Promise<archives.ImportedImage[]>;
  /** Export images `names` as a docker-archive tar: `onStart` before the first `write`. */
  save(names: string[], onStart: () => void, write: (b: Buffer) => Promise<void>, signal: { aborted: boolean; onAbort(fn: () => void): void }): Promise<void>;
}

export interface ImagesBackend {
  readonly images: ImageStore;
  /** The ids of the containers made from image `imageId` (or named `name`): rmi refuses, ps -a counts them. */
  inUse(imageId: string, name: string): string[];
  /** Parents of built and committed images (the builder's records), when there is a builder. */
  parents?: ImageParents;
}

/** Which image a built or committed image was made on. */
interface ImageParents {
  parentOf(id: string): string | undefined;
  /** Every image that is some image's parent. */
  parentIds(): Set<string>;
}
