import { compareApiVersions, type Volume } from '@gantry/engine-api';
import { decodeVolumeCreate } from '../api/bodies';
import { errdefs } from '@gantry/linux';
import type { EngineContext } from '../context';
import { Reply, type Router } from '../http/router';
import type { VolumesBackend } from '../backend/volumes';
import type { VolumeRecord } from '../volumes/store';
import { matchLabel, parseFilters } from './list-filters';

function bool(v: string | null | undefined): boolean {
  return v === '1' || v === 'true' || v === 'True';
}

const LIST_FILTERS = new Set(['name', 'label', 'driver', 'dangling']);
const PRUNE_FILTERS = new Set(['label', 'label!', 'all']);

/** Docker's volume endpoints over the volumes backend (the daemon's VolumeStore and ContainerMounts). */
export function registerVolumeRoutes(router: Router, ctx: EngineContext, mounts: VolumesBackend): void {
  const store = mounts.volumes;
  const json = (v: VolumeRecord): Volume => ({
    CreatedAt: v.CreatedAt,
    Driver: v.Driver,
    Labels: v.Labels,
    Mountpoint: store.dataPath(v.Name),
    Name: v.Name,
    Options: v.Options,
    Scope: v.Scope,
  });
  const dangling = (v: VolumeRecord) => mounts.usersOf(v.Name).length === 0;

  router.post('/volumes/create', async (c) => {
    const body = decodeVolumeCreate(await c.json<unknown>());
    if (body.ClusterVolumeSpec) throw errdefs.invalidArgument('cluster volumes are not supported: this node is not a swarm manager');
    const r = store.create({ name: body.Name ?? '', driver: body.Driver, options: body.DriverOpts, labels: body.Labels });
    if (r.created) ctx.events.emit('volume', 'create', r.volume.Name, { driver: r.volume.Driver });
    return Reply.created(json(r.volume));
  });

  router.get('/volumes', (c) => {
    const f = parseFilters(c.query, LIST_FILTERS);
    for (const d of f.dangling ?? []) if (!['true', 'false', '1', '0'].includes(d)) throw errdefs.invalidArgument(`invalid filter 'dangling=${d}'`);
    const list = store.all().filter((v) => {
      if (f.name && !f.name.some((n) => v.Name.includes(n))) return false;
      if (f.driver && !f.driver.includes(v.Driver)) return false;
      if (f.label && !f.label.every((l) => matchLabel(v.Labels, l))) return false;
      if (f.dangling?.length && f.dangling.some((d) => bool(d) !== dangling(v))) return false;
      return true;
    });
    return { Volumes: list.map(json), Warnings: null };
  });

  router.get('/volumes/:name', (c) => json(store.get(c.params.name!)));

  router.delete('/volumes/:name', (c) => {
    const name = c.params.name!;
    if (!store.find(name)) {
      if (bool(c.query.get('force'))) return Reply.noContent();
      throw errdefs.notFound(`get ${name}: no such volume`);
    }
    store.remove(name, mounts.usersOf(name));
    ctx.events.emit('volume', 'destroy', name, { driver: 'local' });
    return Reply.noContent();
  });

  router.post('/volumes/prune', (c) => {
    const f = parseFilters(c.query, PRUNE_FILTERS);
    for (const a of f.all ?? []) if (!['true', 'false', '1', '0'].includes(a)) throw errdefs.invalidArgument(`invalid filter 'all=${a}'`);
    // before API 1.42 prune took every unused volume, named or not
    const all = (f.all ?? []).some(bool) || compareApiVersions(c.apiVersion, '1.42') < 0;
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const v of store.all()) {
      if (!dangling(v)) continue;
      // API 1.42+: only anonymous volumes unless all=true
      if (!all && !store.isAnonymous(v)) continue;
      if (f.label && !f.label.every((l) => matchLabel(v.Labels, l))) continue;
      if (f['label!'] && f['label!'].some((l) => matchLabel(v.Labels, l))) continue;
      const size = store.size(v.Name);
      store.remove(v.Name, []);
      ctx.events.emit('volume', 'destroy', v.Name, { driver: v.Driver });
      deleted.push(v.Name);
      reclaimed += size;
    }
    ctx.events.emit('volume', 'prune', '', { reclaimed: String(reclaimed) });
    return { VolumesDeleted: deleted, SpaceReclaimed: reclaimed };
  });
}

/** Volumes for GET /system/df, with their size and how many containers reference them. */
export function volumeUsage(mounts: VolumesBackend): Record<string, unknown>[] {
  const store = mounts.volumes;
  return store.all().map((v) => ({
    CreatedAt: v.CreatedAt,
    Driver: v.Driver,
    Labels: v.Labels,
    Mountpoint: store.dataPath(v.Name),
    Name: v.Name,
    Options: v.Options,
    Scope: v.Scope,
    UsageData: { Size: store.size(v.Name), RefCount: mounts.usersOf(v.Name).length },
  }));
}
