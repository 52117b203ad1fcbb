import { errdefs } from '@gantry/linux';
import type { EngineContext } from '../context';
import { API_VERSION } from '@gantry/engine-api';
import type { ContainerRecords } from '../backend/containers';
import type { ImageStore } from '../backend/images';
import type { EngineEvent } from '../events';
import { EVENT_BACKLOG_LIMIT } from '../http/backpressure';
import { Reply, type Router } from '../http/router';
import { matchLabel, parseFilters } from './list-filters';
import { imageUsage } from './images';
import { mountsJson } from '../volumes/container-mounts';

function parseTime(v: string | null, now: number): number | undefined {
  if (!v) return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return Math.floor(Number(v) * 1e9);
  const rel = /^(\d+)(s|m|h)$/.exec(v);
  if (rel) return (now - Number(rel[1]) * { s: 1e3, m: 6e4, h: 3.6e6 }[rel[2] as 's' | 'm' | 'h']) * 1e6;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw errdefs.invalidArgument(`invalid time ${JSON.stringify(v)}`);
  return t * 1e6;
}

/**
 * dockerd's fuzzy name match (moby events/filter.go): with no values for `key` everything matches;
 * otherwise the actor's ID or its `name` attribute must equal or start with one of them, whatever
 * the event's type (so `volume=x` keeps only events of a volume named x).
 */
function fuzzyName(e: EngineEvent, f: Record<string, string[]>, key: string): boolean {
  const want = f[key];
  if (!want) return true;
  const name = e.Actor.Attributes.name;
  return want.some((x) => e.Actor.ID.startsWith(x) || (name !== undefined && name.startsWith(x)));
}

const BY_NAME = ['daemon', 'volume', 'network', 'plugin', 'node', 'service', 'secret', 'config'] as const;

function matches(e: EngineEvent, f: Record<string, string[]>): boolean {
  if (f.type && !f.type.includes(e.Type)) return false;
  if (f.scope && !f.scope.includes(e.scope)) return false;
  if (f.event && !f.event.some((x) => e.Action === x || e.Action.startsWith(`${x}:`))) return false;
  if (f.container && (e.Type !== 'container' || !f.container.some((x) => e.Actor.ID.startsWith(x) || e.Actor.Attributes.name === x))) return false;
  if (f.image && !f.image.some((x) => e.Actor.Attributes.image === x || e.Actor.ID === x || e.Actor.Attributes.name === x)) return false;
  if (!BY_NAME.every((k) => fuzzyName(e, f, k))) return false;
  if (f.label && !f.label.every((l) => matchLabel(e.Actor.Attributes, l))) return false;
  return true;
}

/** GET /events (since/until/filters, streamed as JSON lines) and GET /system/df. */
export function registerEventRoutes(
  router: Router,
  ctx: EngineContext,
  store: ContainerRecords,
  images: ImageStore,
  volumes?: () => Record<string, unknown>[],
): void {
  router.get('/events', async (c) => {
    const now = Date.now();
    const since = parseTime(c.query.get('since'), now);
    const until = parseTime(c.query.get('until'), now);
    const filters = parseFilters(c.query, [
      'type',
      'event',
      'container',
      'image',
      'label',
      'scope',
      'daemon',
      'network',
      'volume',
      'plugin',
      'node',
      'service',
      'secret',
      'config',
    ]);
    c.res.writeHead(200, { 'Content-Type': 'application/json', 'Api-Version': API_VERSION });
    c.res.flushHeaders();
    let dropped = 0;
    const send = (e: EngineEvent) => {
      if (until !== undefined && e.timeNano > until) return;
      if (!matches(e, filters)) return;
      if (c.res.writableLength > EVENT_BACKLOG_LIMIT) {
        if (dropped++ === 0) ctx.log.warn('events client is not reading; dropping its events', { backlog: c.res.writableLength });
        return;
      }
      c.res.write(`${JSON.stringify(e)}\n`);
    };
    if (since !== undefined) for (const e of ctx.events.since(since)) send(e);
    if (until !== undefined && until <= Date.now() * 1e6) {
      c.res.end();
      return Reply.handled;
    }
    await new Promise<void>((resolve) => {
      const unsub = ctx.events.subscribe(send);
      const done = () => {
        unsub();
        clearTimeout(timer);
        resolve();
      };
      const timer = until !== undefined ? setTimeout(done, Math.max(0, until / 1e6 - Date.now())) : undefined;
      c.req.on('close', done);
      c.res.on('close', done);
    });
    c.res.end();
    return Reply.handled;
  });

  router.get('/system/df', async () => {
    const usage = await imageUsage(images, (id) =>
      store
        .all()
        .filter((x) => x.ImageID === id)
        .map((x) => x.Id),
    );
    return {
      LayersSize: usage.reduce((n, i) => n + Number((i as { Size?: number }).Size ?? 0), 0),
      Images: usage,
      Containers: store.all().map((r) => ({
        Id: r.Id,
        Names: [r.Name],
        Image: r.Image,
        ImageID: r.ImageID,
        Command: [r.Path, ...r.Args].join(' '),
        Created: Math.floor(Date.parse(r.Created) / 1000),
        State: r.State.Status,
        Status: r.State.Status,
        SizeRw: 0,
        SizeRootFs: 0,
        Labels: {},
        Mounts: mountsJson(r),
      })),
      Volumes: volumes?.() ?? [],
      BuildCache: [],
    };
  });
}
