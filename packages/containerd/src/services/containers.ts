/** containerd.services.containers.v1.Containers over the record store; publishes /containers/* events. */
import type { ServerWritableStream } from '@grpc/grpc-js';
import { events, packAny, type containers, type MessageCodec } from '@gantry/api';
import type { DaemonContext } from '../context';
import { failedPrecondition, invalidArgument, toServiceError } from '../errors';
import { compileRequestFilters, containerAdaptor } from '../metadata/adaptors';
import { ContainerStore } from '../metadata/containers';
import { NamespaceStore } from '../metadata/namespaces';
import { requireNamespace, unary } from '../rpc';

export interface ContainersServiceOptions {
  /** Whether a container has a task (the Tasks service's view); such a container cannot be deleted. */
  hasTask?(ns: string, id: string): boolean;
}

export function containersService(ctx: DaemonContext, opts: ContainersServiceOptions = {}): containers.ContainersServer {
  const store = new ContainerStore(ctx.store, new NamespaceStore(ctx.store));
  const log = ctx.log.with({ service: 'containers' });
  const publish = <T>(ns: string, topic: string, type: string, codec: MessageCodec<T>, msg: T) =>
    ctx.publish(ns, topic, packAny(`containerd.events.${type}`, codec, msg));

  const list = (ns: string, filters: readonly string[]): containers.Container[] => {
    const match = compileRequestFilters(filters);
    return store.list(ns).filter((c) => match(containerAdaptor(c)));
  };

  return {
    get: unary(log, 'Get', (req: containers.GetContainerRequest, md): containers.GetContainerResponse => ({
      container: store.get(requireNamespace(md), req.id),
    })),

    list: unary(log, 'List', (req: containers.ListContainersRequest, md): containers.ListContainersResponse => ({
      containers: list(requireNamespace(md), req.filters),
    })),

    // one message per container, so a long list needs no single huge message
    listStream: (call: ServerWritableStream<containers.ListContainersRequest, containers.ListContainerMessage>) => {
      try {
        for (const container of list(requireNamespace(call.metadata), call.request.filters)) {
          if (call.cancelled) return;
          call.write({ container });
        }
        call.end();
      } catch (e) {
        const err = toServiceError(e);
        log.debug('request failed', { method: 'ListStream', code: err.code, error: err.details });
        call.emit('error', err);
      }
    },

    create: unary(log, 'Create', (req: containers.CreateContainerRequest, md): containers.CreateContainerResponse => {
      const ns = requireNamespace(md);
      if (!req.container) throw invalidArgument('container must be set');
      const c = store.create(ns, req.container);
      publish(ns, '/containers/create', 'ContainerCreate', events.ContainerCreate, {
        id: c.id,
        image: c.image,
        runtime: c.runtime && { name: c.runtime.name, options: c.runtime.options },
      });
      return { container: c };
    }),

    update: unary(log, 'Update', (req: containers.UpdateContainerRequest, md): containers.UpdateContainerResponse => {
      const ns = requireNamespace(md);
      if (!req.container) throw invalidArgument('container must be set');
      const c = store.update(ns, req.container, req.updateMask ?? []);
      publish(ns, '/containers/update', 'ContainerUpdate', events.ContainerUpdate, {
        id: c.id,
        image: c.image,
        labels: c.labels,
        snapshotKey: c.snapshotKey,
      });
      return { container: c };
    }),

    delete: unary(log, 'Delete', (req: containers.DeleteContainerRequest, md) => {
      const ns = requireNamespace(md);
      store.get(ns, req.id); // NOT_FOUND before FAILED_PRECONDITION
      if (opts.hasTask?.(ns, req.id)) throw failedPrecondition(`container ${JSON.stringify(req.id)} has a task: delete the task first`);
      store.delete(ns, req.id);
      publish(ns, '/containers/delete', 'ContainerDelete', events.ContainerDelete, { id: req.id });
      return {};
    }),
  };
}
