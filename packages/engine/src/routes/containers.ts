import { hostCgroupVersion } from '../containers/host-facts';
import { errdefs } from '@gantry/linux';
import { API_VERSION } from '@gantry/engine-api';
import type { EngineContext } from '../context';
import type { ContainersBackend } from '../backend/containers';
import type { ContainerNetworkView } from '../backend/networks';
import type { ContainerRecord } from '../containers/record';
import type { ContainerConfig, HostConfig } from '@gantry/engine-api';
import {
  CONTAINER_CONFIG_DEFAULTS,
  ENDPOINT_DEFAULTS,
  HOST_CONFIG_DEFAULTS,
  NETWORK_SETTINGS_DEFAULTS,
  STATE_DEFAULTS,
  withDefaults,
} from '@gantry/engine-api';
import { matchLabel, parseFilters } from './list-filters';
import { drainedOrGone } from '../http/backpressure';
import { Reply, type RequestContext, type Router } from '../http/router';
import { readLogs } from '../logs/json-file';
import { frame, StdStream } from '../streams/stdcopy';
import { sendReplay, serveAttach } from '../streams/attach';
import { statusText } from '../containers/status';
import { mountsJson, usesVolume } from '../volumes/container-mounts';
import { signalParam, stopTimeout } from './query-params';

function bool(q: URLSearchParams, name: string): boolean {
  const v = q.get(name);
  return v === '1' || v === 'true' || v === 'True';
}

/** moby's container prune filters */
const PRUNE_FILTERS = ['until', 'label', 'label!'];
const LIST_FILTERS = new Set([
  'id',
  'name',
  'label',
  'status',
  'exited',
  'ancestor',
  'before',
  'since',
  'health',
  'network',
  'volume',
  'publish',
  'expose',
  'is-task',
]);

/** Network facts of a container for ps/inspect; set by registerContainerRoutes when gantryd manages networks. */
const networkHooks = {
  ports: (_r: ContainerRecord): unknown[] => [],
  networks: (_r: ContainerRecord): Record<string, unknown> => ({}),
  settings: (_r: ContainerRecord): Record<string, unknown> => ({ Bridge: '', SandboxID: '', Ports: {}, Networks: {} }),
  etcPath: (_r: ContainerRecord, _f: string): string => '',
};

function summary(r: ContainerRecord): Record<string, unknown> {
  const cfg = r.Config as ContainerConfig;
  const host = r.HostConfig as HostConfig;
  return {
    Id: r.Id,
    Names: [r.Name],
    Image: r.Image,
    ImageID: r.ImageID,
    Command: [r.Path, ...r.Args].map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' '),
    Created: Math.floor(Date.parse(r.Created) / 1000),
    Ports: networkHooks.ports(r),
    Labels: cfg.Labels ?? {},
    State: r.State.Status,
    Status: statusText(r.State),
    HostConfig: { NetworkMode: host.NetworkMode || 'default' },
    NetworkSettings: { Networks: networkHooks.networks(r) },
    Mounts: mountsJson(r),
  };
}

/** NetworkSettings with every field dockerd returns, in each endpoint too. */
function inspectNetworkSettings(ns: Record<string, unknown>): Record<string, unknown> {
  const out = withDefaults(ns, NETWORK_SETTINGS_DEFAULTS);
  const nets = out.Networks as Record<string, Record<string, unknown>>;
  out.Networks = Object.fromEntries(Object.entries(nets).map(([k, ep]) => [k, withDefaults(ep, ENDPOINT_DEFAULTS)]));
  return out;
}

function inspect(r: ContainerRecord, execIds: string[]): Record<string, unknown> {
  return {
    Id: r.Id,
    Created: r.Created,
    Path: r.Path,
    Args: r.Args,
    State: withDefaults(r.State as unknown as Record<string, unknown>, STATE_DEFAULTS),
    Image: r.ImageID,
    ResolvConfPath: networkHooks.etcPath(r, 'resolv.conf'),
    HostnamePath: networkHooks.etcPath(r, 'hostname'),
    HostsPath: networkHooks.etcPath(r, 'hosts'),
    LogPath: r.LogPath,
    Name: r.Name,
    RestartCount: r.RestartCount,
    Driver: 'overlayfs',
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: execIds.length ? execIds : null,
    HostConfig: withDefaults(r.HostConfig, { ...HOST_CONFIG_DEFAULTS, CgroupnsMode: hostCgroupVersion() === 2 ? 'private' : 'host' }),
    GraphDriver: { Name: 'overlayfs', Data: null },
    Mounts: mountsJson(r),
    Config: withDefaults(r.Config, { ...CONTAINER_CONFIG_DEFAULTS, Hostname: r.Id.slice(0, 12), Image: r.Image }),
    NetworkSettings: inspectNetworkSettings(networkHooks.settings(r)),
  };
}

/**
 * Docker's container endpoints (the lifecycle, logs, attach, top, update, resize, prune), over the
 * containers backend; `nets`, when gantryd manages networks, gives ps and inspect their network fields.
 */
export function registerContainerRoutes(
  router: Router,
  ctx: EngineContext,
  mgr: ContainersBackend,
  execIdsOf: (id: string) => string[],
  nets?: ContainerNetworkView,
): void {
  const store = mgr.store;
  if (nets) {
    const exposed = (r: ContainerRecord) => ({ ...((r.Config as ContainerConfig).ExposedPorts ?? {}) }) as Record<string, unknown>;
    networkHooks.ports = (r) => (r.State.Running ? nets.portSummary(r.Id, exposed(r)) : []);
    networkHooks.networks = (r) => nets.summaryNetworks(r.Id, r.State.Running);
    networkHooks.settings = (r) => nets.settings(r.Id, r.State.Running, exposed(r));
    networkHooks.etcPath = (r, f) => store.containerDir(r.Id) + '/' + f;
  }

  router.post('/containers/create', async (c) => Reply.created(await mgr.create(await c.json(), c.query.get('name'))));

  router.get('/containers/json', (c) => {
    const all = bool(c.query, 'all');
    const filters = parseFilters(c.query, LIST_FILTERS);
    for (const v of filters.health ?? [])
      if (!['starting', 'healthy', 'unhealthy', 'none'].includes(v)) throw errdefs.invalidArgument(`Unrecognised filter value for health: ${v}`);
    let list = store.all().sort((a, b) => Date.parse(b.Created) - Date.parse(a.Created));
    const byRef = (ref: string) => store.find(ref);
    const before = filters.before?.[0] ? byRef(filters.before[0]) : undefined;
    const since = filters.since?.[0] ? byRef(filters.since[0]) : undefined;
    list = list.filter((r) => {
      const stateFilters = filters.status ?? [];
      if (!all && !stateFilters.length && !filters.exited && !r.State.Running && !r.State.Restarting) return false;
      if (filters.id && !filters.id.some((v) => r.Id.startsWith(v))) return false;
      if (filters.name && !filters.name.some((v) => new RegExp(v.replace(/^\//, '')).test(r.Name.slice(1)))) return false;
      if (filters.label && !filters.label.every((f) => matchLabel(((r.Config as ContainerConfig).Labels ?? {}) as Record<string, string>, f))) return false;
      if (stateFilters.length && !stateFilters.includes(r.State.Status)) return false;
      if (filters.health && !filters.health.includes(r.State.Health?.Status ?? 'none')) return false;
      if (filters.exited && !(r.State.Status === 'exited' && filters.exited.includes(String(r.State.ExitCode)))) return false;
      if (
        filters.ancestor &&
        !filters.ancestor.some((a) => r.Image === a || r.ImageID === a || r.ImageID.replace('sha256:', '').startsWith(a.replace('sha256:', '')))
      )
        return false;
      if (before && Date.parse(r.Created) >= Date.parse(before.Created)) return false;
      if (since && Date.parse(r.Created) <= Date.parse(since.Created)) return false;
      if (filters.volume && !filters.volume.some((v) => usesVolume(r, v))) return false;
      return true;
    });
    const limit = Number(c.query.get('limit') ?? '-1');
    if (limit > 0) list = list.slice(0, limit);
    return list.map(summary);
  });

  router.get('/containers/:id/json', (c) => inspect(store.get(c.params.id!), execIdsOf(store.get(c.params.id!).Id)));

  router.post('/containers/:id/start', async (c) => {
    await mgr.start(c.params.id!);
    return Reply.noContent();
  });
  router.post('/containers/:id/stop', async (c) => {
    await mgr.stop(c.params.id!, stopTimeout(c.query), signalParam(c.query));
    return Reply.noContent();
  });
  router.post('/containers/:id/restart', async (c) => {
    await mgr.restart(c.params.id!, stopTimeout(c.query), signalParam(c.query));
    return Reply.noContent();
  });
  router.post('/containers/:id/kill', async (c) => {
    await mgr.kill(c.params.id!, signalParam(c.query));
    return Reply.noContent();
  });
  router.post('/containers/:id/pause', async (c) => {
    await mgr.pause(c.params.id!);
    return Reply.noContent();
  });
  router.post('/containers/:id/unpause', async (c) => {
    await mgr.unpause(c.params.id!);
    return Reply.noContent();
  });
  router.post('/containers/:id/rename', (c) => {
    const name = c.query.get('name');
    if (!name) throw errdefs.invalidArgument('name is required');
    mgr.rename(c.params.id!, name);
    return Reply.noContent();
  });
  router.post('/containers/:id/wait', async (c) => {
    const waiting = mgr.wait(c.params.id!, c.query.get('condition') ?? 'not-running');
    // headers go out at once: the CLI waits for them before it starts the container
    c.res.writeHead(200, { 'Content-Type': 'application/json', 'Api-Version': API_VERSION });
    c.res.flushHeaders();
    const r = await waiting;
    c.res.end(`${JSON.stringify(r)}\n`);
    return Reply.handled;
  });
  router.delete('/containers/:id', async (c) => {
    if (bool(c.query, 'link')) throw errdefs.invalidArgument('links are not supported');
    await mgr.remove(c.params.id!, { force: bool(c.query, 'force'), removeVolumes: bool(c.query, 'v') });
    return Reply.noContent();
  });
  router.post('/containers/prune', async (c) => {
    const filters = parseFilters(c.query, PRUNE_FILTERS);
    const deleted: string[] = [];
    for (const r of store.all()) {
      if (r.State.Running || r.State.Restarting) continue;
      const labels = ((r.Config as ContainerConfig).Labels ?? {}) as Record<string, string>;
      if (filters.label && !filters.label.every((f) => matchLabel(labels, f))) continue;
      if (filters['label!']?.some((f) => matchLabel(labels, f))) continue;
      if (filters.until && Date.parse(r.Created) >= Date.parse(filters.until[0]!)) continue;
      await mgr.remove(r.Id, { force: false });
      deleted.push(r.Id);
    }
    return { ContainersDeleted: deleted, SpaceReclaimed: 0 };
  });

  router.post('/containers/:id/resize', async (c) => {
    await mgr.resize(c.params.id!, Number(c.query.get('h') ?? '0'), Number(c.query.get('w') ?? '0'));
    return new Reply(200, undefined);
  });

  router.get('/containers/:id/top', async (c) => mgr.top(c.params.id!, c.query.get('ps_args')));

  router.post('/containers/:id/update', async (c) => {
    const id = store.get(c.params.id!).Id; // a 404 before the body is read
    return mgr.update(id, await c.json<unknown>());
  });

  router.get('/containers/:id/logs', async (c) => {
    const rec = store.get(c.params.id!);
    const stdout = bool(c.query, 'stdout');
    const stderr = bool(c.query, 'stderr');
    if (!stdout && !stderr) throw errdefs.invalidArgument('Bad parameters: you must choose at least one stream');
    const tailQ = c.query.get('tail') ?? 'all';
    const tail = tailQ === 'all' || tailQ === '' ? 'all' : Number.isInteger(Number(tailQ)) && Number(tailQ) >= 0 ? Number(tailQ) : 'all';
    const unix = (v: string | null) => (v && v !== '0' ? new Date(Number(v.split('.')[0]) * 1000 + Number(`0.${v.split('.')[1] ?? '0'}`) * 1000) : undefined);
    const follow = bool(c.query, 'follow') && rec.State.Running;
    const tty = (rec.Config as ContainerConfig).Tty === true;
    const abort = new AbortController();
    c.req.on('close', () => abort.abort());
    c.res.on('close', () => abort.abort());
    c.res.writeHead(200, {
      'Content-Type': tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream',
      'Api-Version': API_VERSION,
    });
    c.res.flushHeaders();
    const stopped = mgr.wait(rec.Id, 'not-running').then(async () => {
      await new Promise((r) => setTimeout(r, 100));
    });
    try {
      for await (const m of readLogs(rec.LogPath, {
        stdout,
        stderr,
        follow,
        tail,
        since: unix(c.query.get('since')),
        until: unix(c.query.get('until')),
        timestamps: bool(c.query, 'timestamps'),
        signal: abort.signal,
        stopped,
      })) {
        const chunk = tty ? m.line : frame(m.stream === 'stdout' ? StdStream.Stdout : StdStream.Stderr, m.line);
        if (!c.res.write(chunk)) await drainedOrGone(c.res);
      }
    } catch (e) {
      if (!abort.signal.aborted) ctx.log.warn('logs stream failed', { id: rec.Id, error: String(e) });
    }
    c.res.end();
    return Reply.handled;
  });

  router.post('/containers/:id/attach', async (c: RequestContext) => {
    const rec = store.get(c.params.id!);
    const cfg = rec.Config as ContainerConfig;
    const io = mgr.io(rec.Id);
    const wantStream = bool(c.query, 'stream');
    if (wantStream && !io && rec.State.Running) throw errdefs.conflict(`container ${rec.Id} output is not available`);
    const tty = cfg.Tty === true;
    const conn = c.hijack(tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream');
    const logs = bool(c.query, 'logs');
    const stdout = bool(c.query, 'stdout');
    const stderr = bool(c.query, 'stderr');
    const replay = logs
      ? async function* () {
          for await (const m of readLogs(rec.LogPath, { stdout: true, stderr: true, follow: false, tail: 'all', timestamps: false }))
            yield { stream: m.stream, line: m.line };
        }
      : undefined;
    if (!io) {
      // not running: dockerd replays the log first, then (stream=1) waits for the next run's output
      if (replay) await sendReplay(conn, replay, { tty, stdout, stderr });
      if (!wantStream) {
        conn.end();
        return Reply.handled;
      }
      // docker run / start -a attach before the start: wait for the task's IO to exist
      const deadline = Date.now() + 60000;
      while (!mgr.io(rec.Id) && Date.now() < deadline && store.find(rec.Id) && !conn.destroyed) {
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    const live = mgr.io(rec.Id);
    if (!live) {
      conn.end();
      return Reply.handled;
    }
    await serveAttach(conn, live, {
      stdin: bool(c.query, 'stdin') && cfg.OpenStdin === true,
      stdout,
      stderr,
      tty,
      stream: wantStream,
      detachKeys: c.query.get('detachKeys') ?? undefined,
      stdinOnce: cfg.StdinOnce === true,
      onStdinClosed: () => mgr.closeStdin(rec.Id),
      // already sent when the IO appeared only after the replay
      replay: io ? replay : undefined,
    });
    return Reply.handled;
  });
}
