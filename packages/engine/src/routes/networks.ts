/** Docker's network endpoints: create, list, inspect, remove, connect, disconnect, prune. */
import { decodeNetworkCreate } from '../api/bodies';
import { errdefs } from '@gantry/linux';
import { decode } from '../containers/decode';
import { NETWORK_CONNECT_BODY, NETWORK_DISCONNECT_BODY } from '../containers/validate';
import type { EngineContext } from '../context';
import { Reply, type Router } from '../http/router';
import type { NetworksBackend } from '../backend/networks';
import type { EndpointConfig } from '../networks/controller';
import type { NetworkRecord } from '@gantry/network';
import { matchLabel, parseFilters } from './list-filters';

/** moby's network prune filters */
const PRUNE_FILTERS = ['until', 'label', 'label!'];
const LIST_FILTERS = new Set(['name', 'id', 'driver', 'label', 'type', 'scope', 'dangling']);

export function registerNetworkRoutes(router: Router, ctx: EngineContext, nets: NetworksBackend): void {
  const view = (n: NetworkRecord, withContainers = true) => {
    const { Bridge: _bridge, ...rest } = n;
    return { ...rest, Containers: withContainers ? nets.endpointsOf(n.Id) : {} };
  };

  router.post('/networks/create', async (c) => {
    const out = await nets.create(decodeNetworkCreate(await c.json<unknown>()));
    const n = nets.get(out.Id);
    ctx.events.emit('network', 'create', out.Id, { name: n.Name, type: n.Driver });
    return Reply.created(out);
  });

  router.get('/networks', (c) => {
    const filters = parseFilters(c.query, LIST_FILTERS);
    for (const t of filters.type ?? []) if (t !== 'custom' && t !== 'builtin') throw errdefs.invalidArgument(`invalid filter: 'type'='${t}'`);
    const builtin = (n: NetworkRecord) => ['bridge', 'host', 'none'].includes(n.Name);
    return nets
      .list()
      .filter((n) => {
        if (filters.name && !filters.name.some((v) => n.Name.includes(v))) return false;
        if (filters.id && !filters.id.some((v) => n.Id.startsWith(v))) return false;
        if (filters.driver && !filters.driver.includes(n.Driver)) return false;
        if (filters.label && !filters.label.every((f) => matchLabel(n.Labels, f))) return false;
        if (filters.type && !filters.type.some((t) => (t === 'builtin') === builtin(n))) return false;
        if (filters.scope && !filters.scope.includes('local')) return false;
        if (filters.dangling?.length) {
          const dangling = ['true', '1'].includes(filters.dangling[0]!);
          if (builtin(n) || dangling !== (Object.keys(nets.endpointsOf(n.Id)).length === 0)) return false;
        }
        return true;
      })
      .sort((a, b) => a.Name.localeCompare(b.Name))
      .map((n) => view(n));
  });

  router.get('/networks/:id', (c) => view(nets.get(c.params.id!)));

  router.delete('/networks/:id', async (c) => {
    const n = nets.get(c.params.id!);
    await nets.remove(n.Id);
    ctx.events.emit('network', 'destroy', n.Id, { name: n.Name, type: n.Driver });
    return Reply.noContent();
  });

  router.post('/networks/:id/connect', async (c) => {
    const body = (decode(await c.json<unknown>(), NETWORK_CONNECT_BODY, 'ConnectOptions') ?? {}) as { Container?: string; EndpointConfig?: EndpointConfig };
    if (!body.Container) throw errdefs.invalidArgument('no container specified');
    const n = nets.get(c.params.id!);
    await nets.connect(n.Id, body.Container, body.EndpointConfig ?? {});
    ctx.events.emit('network', 'connect', n.Id, { name: n.Name, type: n.Driver, container: body.Container });
    return new Reply(200);
  });

  router.post('/networks/:id/disconnect', async (c) => {
    const body = (decode(await c.json<unknown>(), NETWORK_DISCONNECT_BODY, 'DisconnectOptions') ?? {}) as { Container?: string; Force?: boolean };
    if (!body.Container) throw errdefs.invalidArgument('no container specified');
    const n = nets.get(c.params.id!);
    await nets.disconnect(n.Id, body.Container);
    ctx.events.emit('network', 'disconnect', n.Id, { name: n.Name, type: n.Driver, container: body.Container });
    return new Reply(200);
  });

  router.post('/networks/prune', async (c) => {
    const filters = parseFilters(c.query, PRUNE_FILTERS);
    const until = filters.until?.[0] ? Date.parse(filters.until[0]) || Number(filters.until[0]) * 1000 : undefined;
    const deleted = await nets.prune((n) => {
      if (filters.label && !filters.label.every((f) => matchLabel(n.Labels, f))) return false;
      if (filters['label!'] && filters['label!'].some((f) => matchLabel(n.Labels, f))) return false;
      if (until !== undefined && Date.parse(n.Created) >= until) return false;
      return true;
    });
    return { NetworksDeleted: deleted };
  });
}
