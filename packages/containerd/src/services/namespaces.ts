/** containerd.services.namespaces.v1.Namespaces over the record store; publishes /namespaces/* events. */
import { events, packAny, type MessageCodec, type namespaces } from '@gantry/api';
import type { DaemonContext } from '../context';
import { invalidArgument } from '../errors';
import { compileRequestFilters, namespaceAdaptor } from '../metadata/adaptors';
import { own, put } from '../metadata/maps';
import { NamespaceStore } from '../metadata/namespaces';
import { unary } from '../rpc';

/** Labels after applying an update mask ("labels" replaces all, "labels.<k>" one key; containerd's paths). */
function maskedLabels(name: string, cur: Record<string, string>, req: Record<string, string>, paths: readonly string[]): Record<string, string> {
  if (paths.length === 0) return { ...req };
  let next = { ...cur };
  for (const p of paths) {
    if (p === 'labels') {
      next = { ...req };
    } else if (p.startsWith('labels.')) {
      const k = p.slice('labels.'.length);
      // absent from the request (or ""): remove the label
      put(next, k, own(req, k) ?? '');
    } else {
      throw invalidArgument(`cannot update ${JSON.stringify(p)} field on namespace ${JSON.stringify(name)}`);
    }
  }
  return next;
}

export function namespacesService(ctx: DaemonContext): namespaces.NamespacesServer {
  const store = new NamespaceStore(ctx.store);
  const log = ctx.log.with({ service: 'namespaces' });
  // namespace events are about the namespace itself, so they are published in it
  const publish = <T>(name: string, topic: string, type: string, codec: MessageCodec<T>, msg: T) =>
    ctx.publish(name, topic, packAny(`containerd.events.${type}`, codec, msg));

  return {
    get: unary(log, 'Get', (req: namespaces.GetNamespaceRequest): namespaces.GetNamespaceResponse => ({ namespace: store.get(req.name) })),

    list: unary(log, 'List', (req: namespaces.ListNamespacesRequest): namespaces.ListNamespacesResponse => {
      // containerd ignores this filter; honouring it (name, labels.<k>) costs nothing
      const match = compileRequestFilters(req.filter ? [req.filter] : []);
      return { namespaces: store.list().filter((ns) => match(namespaceAdaptor(ns))) };
    }),

    create: unary(log, 'Create', (req: namespaces.CreateNamespaceRequest): namespaces.CreateNamespaceResponse => {
      if (!req.namespace?.name) throw invalidArgument('namespace.name must be set');
      const ns = store.create(req.namespace.name, req.namespace.labels);
      publish(ns.name, '/namespaces/create', 'NamespaceCreate', events.NamespaceCreate, { name: ns.name, labels: ns.labels });
      return { namespace: ns };
    }),

    update: unary(log, 'Update', (req: namespaces.UpdateNamespaceRequest): namespaces.UpdateNamespaceResponse => {
      if (!req.namespace?.name) throw invalidArgument('namespace.name must be set');
      const { name, labels } = req.namespace;
      const cur = store.get(name);
      const ns = store.setLabels(name, maskedLabels(name, cur.labels, labels, req.updateMask ?? []));
      publish(ns.name, '/namespaces/update', 'NamespaceUpdate', events.NamespaceUpdate, { name: ns.name, labels: ns.labels });
      return { namespace: ns };
    }),

    delete: unary(log, 'Delete', (req: namespaces.DeleteNamespaceRequest) => {
      if (!req.name) throw invalidArgument('name must be set');
      store.delete(req.name);
      publish(req.name, '/namespaces/delete', 'NamespaceDelete', events.NamespaceDelete, { name: req.name });
      return {};
    }),
  };
}
