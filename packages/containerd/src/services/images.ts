/** containerd.services.images.v1.Images over the record store; publishes /images/* events. */
import { events, type images, packAny, type protobuf } from '@gantry/api';
import type { DaemonContext } from '../context';
import { invalidArgument } from '../errors';
import { ImageStore } from '../images/store';
import { compileRequestFilters } from '../metadata/adaptors';
import { NamespaceStore } from '../metadata/namespaces';
import { requireNamespace, unary } from '../rpc';

export interface ImagesServiceOptions {
  /** Garbage collection after a delete with sync=true (and scheduled otherwise). */
  collectGarbage?(ns: string, sync: boolean): Promise<void>;
}

function imageAdaptor(img: images.Image) {
  return (path: string[]): string | undefined => {
    const [head, ...rest] = path;
    if (head === 'name' && rest.length === 0) return img.name;
    if (head === 'labels' && rest.length >= 1) return img.labels[rest.join('.')];
    if (head === 'target' && rest.length === 1) {
      const t = img.target;
      if (!t) return undefined;
      if (rest[0] === 'digest') return t.digest;
      if (rest[0] === 'mediatype' || rest[0] === 'media_type') return t.mediaType;
    }
    return undefined;
  };
}

export function imagesService(ctx: DaemonContext, opts: ImagesServiceOptions = {}): images.ImagesServer {
  const store = new ImageStore(ctx.store, new NamespaceStore(ctx.store));
  const log = ctx.log.with({ service: 'images' });
  const publish = (ns: string, topic: string, any: protobuf.Any) => ctx.publish(ns, topic, any);
  return {
    get: unary(log, 'Get', (r: images.GetImageRequest, md) => ({ image: store.get(requireNamespace(md), r.name) })),
    list: unary(log, 'List', (r: images.ListImagesRequest, md) => {
      const match = compileRequestFilters(r.filters);
      return { images: store.list(requireNamespace(md)).filter((i) => match(imageAdaptor(i))) };
    }),
    create: unary(log, 'Create', (r: images.CreateImageRequest, md) => {
      const ns = requireNamespace(md);
      if (!r.image) throw invalidArgument('image is required');
      const img = store.create(ns, r.image);
      publish(ns, '/images/create', packAny('containerd.services.images.v1.ImageCreate', events.ImageCreate, { name: img.name, labels: img.labels }));
      return { image: img };
    }),
    update: unary(log, 'Update', (r: images.UpdateImageRequest, md) => {
      const ns = requireNamespace(md);
      if (!r.image) throw invalidArgument('image is required');
      const img = store.update(ns, r.image, r.updateMask ?? []);
      publish(ns, '/images/update', packAny('containerd.services.images.v1.ImageUpdate', events.ImageUpdate, { name: img.name, labels: img.labels }));
      return { image: img };
    }),
    delete: unary(log, 'Delete', async (r: images.DeleteImageRequest, md) => {
      const ns = requireNamespace(md);
      store.delete(ns, r.name);
      publish(ns, '/images/delete', packAny('containerd.services.images.v1.ImageDelete', events.ImageDelete, { name: r.name }));
      if (opts.collectGarbage) {
        if (r.sync) await opts.collectGarbage(ns, true);
        else void opts.collectGarbage(ns, false).catch((e: unknown) => log.warn('garbage collection failed', { error: String(e) }));
      }
      return {};
    }),
  };
}
