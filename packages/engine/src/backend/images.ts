/**
 * What the image routes (routes/images.ts) need from the rest of the engine, besides the image
 * store they reach through gantry-containerd. Types only.
 */
export interface ImagesBackend {
  /** The ids of the containers made from image `imageId` (or named `name`): rmi refuses, ps -a counts them. */
  inUse(imageId: string, name: string): string[];
}
