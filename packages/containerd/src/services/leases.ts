/** containerd.services.leases.v1.Leases over the LeaseStore. */
import type { leases } from '@gantry/api';
import type { DaemonContext } from '../context';
import { invalidArgument } from '../errors';
import type { LeaseStore } from '../leases/store';
import { compileRequestFilters } from '../metadata/adaptors';
import { requireNamespace, unary } from '../rpc';

export interface LeasesServiceOptions {
  collectGarbage?(ns: string, sync: boolean): Promise<void>;
}

export function leasesService(ctx: DaemonContext, store: LeaseStore, opts: LeasesServiceOptions = {}): leases.LeasesServer {
  const log = ctx.log.with({ service: 'leases' });
  return {
    create: unary(log, 'Create', (r: leases.CreateRequest, md) => ({ lease: store.create(requireNamespace(md), r.id, r.labels) })),
    delete: unary(log, 'Delete', async (r: leases.DeleteRequest, md) => {
      const ns = requireNamespace(md);
      store.delete(ns, r.id);
      if (opts.collectGarbage) {
        if (r.sync) await opts.collectGarbage(ns, true);
        else void opts.collectGarbage(ns, false).catch((e: unknown) => log.warn('garbage collection failed', { error: String(e) }));
      }
      return {};
    }),
    list: unary(log, 'List', (r: leases.ListRequest, md) => {
      const match = compileRequestFilters(r.filters);
      const list = store
        .list(requireNamespace(md))
        .filter((l) =>
          match((p) => (p.length === 1 && p[0] === 'id' ? l.id : p[0] === 'labels' && p.length >= 2 ? l.labels[p.slice(1).join('.')] : undefined)),
        );
      return { leases: list };
    }),
    addResource: unary(log, 'AddResource', (r: leases.AddResourceRequest, md) => {
      if (!r.resource) throw invalidArgument('resource is required');
      store.addResource(requireNamespace(md), r.id, r.resource);
      return {};
    }),
    deleteResource: unary(log, 'DeleteResource', (r: leases.DeleteResourceRequest, md) => {
      if (!r.resource) throw invalidArgument('resource is required');
      store.deleteResource(requireNamespace(md), r.id, r.resource);
      return {};
    }),
    listResources: unary(log, 'ListResources', (r: leases.ListResourcesRequest, md) => ({ resources: store.resources(requireNamespace(md), r.id) })),
  };
}
