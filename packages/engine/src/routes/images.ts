/**
 * Docker's image endpoints (Engine API 1.45) over gantry-containerd's image, content, snapshot and
 * archive services: list, inspect, history, tag, remove, prune, load, save, import; plus the
 * image part of GET /system/df (`imageUsage`). Pull (`/images/create?fromImage=`) is in distribution.ts.
 */
import * as fs from 'node:fs';
import { errdefs } from '@gantry/linux';
import { API_VERSION, compareApiVersions } from '@gantry/engine-api';
import type { images } from '@gantry/api';
import type { EngineContext } from '../context';
import { drainedOrGone } from '../http/backpressure';
import { Reply, type RequestContext, type Router } from '../http/router';
import { buildImage, ociLayout, spoolLayer, tempPath } from '../images/archive';
import { imageCreated, isDangling, repoDigests, repoTags, type ImageEntry, type OciContainerConfig, type OciHistory } from '../images/catalog';
import { applyChanges } from '../images/changes';
import { downloadLayer, importUrl } from '../images/import-source';
import { danglingFilter, globToRegExp, labelsMatch, parseTimeFilter } from '../images/filters';
import { parseFilters } from './list-filters';
import { pullFromRegistry } from './distribution';
import type { DistributionBackend } from '../backend/distribution';
import type { ImageStore, ImagesBackend } from '../backend/images';
import { danglingName, familiar, familiarRepo, isDanglingName, parseName, repoTagOf, repoTagReference, shortId } from '../images/names';

const truthy = (v: string | null) => v !== null && v !== '' && v !== '0' && v.toLowerCase() !== 'false';

const older = (apiVersion: string, than: string) => compareApiVersions(apiVersion, than) < 0;

/** Docker's image Config, from the OCI config's "config" (absent fields as dockerd writes them). */
function dockerConfig(c: OciContainerConfig | undefined): Record<string, unknown> {
  const x = c ?? {};
  return {
    Hostname: '',
    Domainname: '',
    User: x.User ?? '',
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    ...(x.ExposedPorts && Object.keys(x.ExposedPorts).length > 0 ? { ExposedPorts: x.ExposedPorts } : {}),
    Tty: false,
    OpenStdin: false,
    StdinOnce: false,
    Env: x.Env ?? null,
    Cmd: x.Cmd ?? null,
    ...(x.Healthcheck ? { Healthcheck: x.Healthcheck } : {}),
    ...(x.ArgsEscaped ? { ArgsEscaped: true } : {}),
    Image: '',
    Volumes: x.Volumes && Object.keys(x.Volumes).length > 0 ? x.Volumes : null,
    WorkingDir: x.WorkingDir ?? '',
    Entrypoint: x.Entrypoint ?? null,
    OnBuild: x.OnBuild ?? null,
    Labels: x.Labels ?? null,
    ...(x.StopSignal ? { StopSignal: x.StopSignal } : {}),
    ...(x.Shell ? { Shell: x.Shell } : {}),
  };
}

/** Image summaries (GET /images/json, the Images of GET /system/df). */
async function summaries(
  cat: ImageStore,
  entries: ImageEntry[],
  opts: { inUse?: ImagesBackend['inUse']; sharedSize: boolean; apiVersion: string; parentOf?: (id: string) => string | undefined },
): Promise<Record<string, unknown>[]> {
  // how many images use each layer: shared size is what a layer used by several images takes
  const users = new Map<string, number>();
  for (const e of entries) for (const id of new Set(e.chainIds)) users.set(id, (users.get(id) ?? 0) + 1);
  const out: Record<string, unknown>[] = [];
  for (const e of entries) {
    const sizes = await cat.layerSizes(e);
    const size = sizes.reduce((a, b) => a + b, 0);
    const shared = sizes.reduce((a, s, i) => a + ((users.get(e.chainIds[i]!) ?? 0) > 1 ? s : 0), 0);
    const name = repoTags(e)[0] ?? '';
    out.push({
      Id: e.id,
      ParentId: opts.parentOf?.(e.id) ?? '',
      RepoTags: repoTags(e),
      RepoDigests: repoDigests(e),
      Created: imageCreated(e),
      Size: size,
      SharedSize: opts.sharedSize ? shared : -1,
      ...(older(opts.apiVersion, '1.44') ? { VirtualSize: size } : {}),
      Labels: e.config.config?.Labels ?? {},
      Containers: opts.inUse ? opts.inUse(e.id, name).length : -1,
    });
  }
  out.sort((a, b) => (b.Created as number) - (a.Created as number));
  return out;
}

/** The Images entries of GET /system/df: every image with its shared size and container count. */
export async function imageUsage(cat: ImageStore, inUse?: ImagesBackend['inUse']): Promise<Record<string, unknown>[]> {
  return summaries(cat, await cat.entries(), { inUse: inUse ?? (() => []), sharedSize: true, apiVersion: API_VERSION });
}

export function registerImageRoutes(router: Router, ctx: EngineContext, deps: ImagesBackend, dist: DistributionBackend): void {
  const cat = deps.images;
  /**
   * After names moved to other images: images left without any name stay, untagged, as dockerd
   * keeps them. `before` is name → target as it was.
   */
  const keepOrphans = async (before: Map<string, images.Image>): Promise<{ name: string; id: string }[]> => {
    const now = await cat.records();
    const live = new Set(now.map((r) => r.target?.digest));
    const kept: { name: string; id: string }[] = [];
    const done = new Set<string>();
    for (const [name, old] of before) {
      const t = old.target;
      if (!t || live.has(t.digest) || done.has(t.digest)) continue;
      if (now.some((r) => r.name === name && r.target?.digest === t.digest)) continue;
      done.add(t.digest);
      await cat.createRecord(danglingName(t.digest), t);
      try {
        const { manifest } = await cat.manifestOf({ mediaType: t.mediaType, digest: t.digest, size: Number(t.size) });
        kept.push({ name, id: manifest.config.digest });
      } catch {
        kept.push({ name, id: t.digest });
      }
    }
    return kept;
  };

  // --- list, inspect, history ---

  router.get('/images/json', async (c) => {
    const f = parseFilters(c.query, ['dangling', 'label', 'reference', 'before', 'since', 'until']);
    const dangling = danglingFilter(f);
    let entries = await cat.entries();
    const all = entries;
    // untagged images other images were built on (a build's steps) are listed with -a only, as dockerd
    if (!truthy(c.query.get('all')) && deps.parents) {
      const parentIds = deps.parents.parentIds();
      const present = new Set(all.map((e) => e.id));
      const hasChild = new Set([...parentIds].filter((p) => all.some((e) => present.has(e.id) && deps.parents!.parentOf(e.id) === p)));
      entries = entries.filter((e) => !(hasChild.has(e.id) && isDangling(e)));
    }
    if (dangling !== undefined) entries = entries.filter((e) => isDangling(e) === dangling);
    if (f.label) entries = entries.filter((e) => labelsMatch({ label: f.label! }, e.config.config?.Labels));
    for (const [key, cmp] of [
      ['before', (a: number, b: number) => a < b],
      ['since', (a: number, b: number) => a > b],
    ] as const) {
      for (const v of f[key] ?? []) {
        const ref = imageCreated((await cat.resolve(v, all)).entry);
        entries = entries.filter((e) => cmp(imageCreated(e), ref));
      }
    }
    for (const v of f.until ?? []) {
      const t = parseTimeFilter(v, 'until');
      entries = entries.filter((e) => imageCreated(e) * 1000 < t);
    }
    const patterns = f.reference ?? [];
    if (patterns.length > 0) {
      const res = patterns.map((p) => ({ re: globToRegExp(p), tagless: !/:[^/]*$/.test(p) && !p.includes('@') }));
      const matching = (r: (typeof entries)[number]['records'][number]) => {
        const tag = repoTagOf(r.name);
        const p = parseName(r.name);
        if (!tag || !p) return false;
        return res.some(({ re, tagless }) => re.test(tag) || (tagless && re.test(familiarRepo(p))));
      };
      // as dockerd: an image is listed with only the tags that matched (`docker images busybox` shows
      // busybox:latest, not the other names of the same image); digests stay
      entries = entries.filter((e) => e.records.some(matching)).map((e) => ({ ...e, records: e.records.filter((r) => !repoTagOf(r.name) || matching(r)) }));
    }
    return summaries(cat, entries, {
      inUse: deps.inUse,
      sharedSize: truthy(c.query.get('shared-size')),
      apiVersion: c.apiVersion,
      ...(deps.parents ? { parentOf: (id: string) => deps.parents!.parentOf(id) } : {}),
    });
  });

  router.get('/images/*name/json', async (c) => {
    const { entry: e } = await cat.resolve(c.params.name!);
    const cfg = e.config;
    const size = await cat.size(e);
    const lastTag = e.records.reduce<Date | undefined>((a, r) => {
      const t = r.updatedAt ? new Date(Number(r.updatedAt.seconds) * 1000 + Math.floor(r.updatedAt.nanos / 1e6)) : undefined;
      return t && (!a || t > a) ? t : a;
    }, undefined);
    const comment = cfg.history && cfg.history.length > 0 ? (cfg.history[cfg.history.length - 1]!.comment ?? '') : '';
    return {
      Id: e.id,
      RepoTags: repoTags(e),
      RepoDigests: repoDigests(e),
      Parent: deps.parents?.parentOf(e.id) ?? '',
      Comment: comment,
      Created: cfg.created ?? '0001-01-01T00:00:00Z',
      // Deprecated fields dockerd stops answering at API 1.45, kept at every version (empty: gantry keeps
      // no build container's config) because docker-compose 1.29 negotiates the server's API version and
      // reads ContainerConfig.Volumes on every recreate (KeyError without it); other clients ignore them.
      Container: '',
      ContainerConfig: dockerConfig(undefined),
      DockerVersion: '',
      Author: cfg.author ?? '',
      Config: dockerConfig(cfg.config),
      Architecture: cfg.architecture ?? '',
      ...(cfg.variant ? { Variant: cfg.variant } : {}),
      Os: cfg.os ?? '',
      ...(cfg['os.version'] ? { OsVersion: cfg['os.version'] } : {}),
      Size: size,
      ...(older(c.apiVersion, '1.44') ? { VirtualSize: size } : {}),
      GraphDriver: { Name: 'overlayfs', Data: null },
      RootFS: { Type: cfg.rootfs?.type ?? 'layers', Layers: cfg.rootfs?.diff_ids ?? [] },
      Metadata: { LastTagTime: isDangling(e) || !lastTag ? '0001-01-01T00:00:00Z' : lastTag.toISOString() },
    };
  });

  router.get('/images/*name/history', async (c) => {
    const { entry: e } = await cat.resolve(c.params.name!);
    const sizes = await cat.layerSizes(e);
    const history: OciHistory[] = e.config.history && e.config.history.length > 0 ? e.config.history : e.layers.map(() => ({ created: e.config.created }));
    let layer = 0;
    const rows = history.map((h) => {
      const empty = h.empty_layer === true || layer >= sizes.length;
      const size = empty ? 0 : sizes[layer++]!;
      const t = h.created ? Date.parse(h.created) : NaN;
      return {
        Id: '<missing>',
        Created: Number.isFinite(t) ? Math.floor(t / 1000) : 0,
        CreatedBy: h.created_by ?? '',
        Tags: null as string[] | null,
        Size: size,
        Comment: h.comment ?? '',
      };
    });
    rows.reverse();
    if (rows[0]) {
      rows[0].Id = e.id;
      rows[0].Tags = repoTags(e);
    }
    // the images a build or commit went through name their rows (from the top: each image's
    // history is a prefix of its child's)
    const all = deps.parents ? await cat.entries() : [];
    for (let id = deps.parents?.parentOf(e.id); id; id = deps.parents?.parentOf(id)) {
      const p = all.find((x) => x.id === id);
      if (!p) break;
      const row = rows[rows.length - (p.config.history?.length ?? 0)];
      if (!row) break;
      row.Id = p.id;
      row.Tags = repoTags(p);
    }
    return rows;
  });

  // --- tag, remove, prune ---

  router.post('/images/*name/tag', async (c) => {
    // the new reference is checked first (400), then the source image (404), as dockerd does
    const name = repoTagReference(c.query.get('repo') ?? '', c.query.get('tag') ?? '');
    const { entry: e, byId, matched } = await cat.resolve(c.params.name!);
    const source = (!byId ? matched[0] : undefined) ?? e.records.find((r) => !isDanglingName(r.name)) ?? e.records[0]!;
    const before = new Map((await cat.records()).map((r) => [r.name, r]));
    await cat.setRecord(name, source.target!);
    // an untagged image that got a name is no longer dangling
    for (const r of e.records) if (isDanglingName(r.name)) await cat.deleteRecord(r.name, false);
    await keepOrphans(before);
    ctx.events.emit('image', 'tag', e.id, { name: familiar(name) });
    return new Reply(201);
  });

  interface DeleteItem {
    Untagged?: string;
    Deleted?: string;
  }

  /** Remove records; the image's last one with a synchronous GC when the image goes. */
  const removeImage = async (e: ImageEntry, records: images.Image[], deleteImage: boolean, out: DeleteItem[], sync: boolean): Promise<void> => {
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      await cat.deleteRecord(r.name, sync && deleteImage && i === records.length - 1);
      if (!isDanglingName(r.name)) {
        out.push({ Untagged: familiar(r.name) });
        ctx.events.emit('image', 'untag', e.id, { name: familiar(r.name) });
      }
    }
    if (deleteImage) {
      out.push({ Deleted: e.id });
      ctx.events.emit('image', 'delete', e.id, { name: e.id });
      await removeUntaggedParents(e.id, out);
    }
  };

  /**
   * After a built or committed image goes: its parents that are untagged, the parent of no other
   * image and used by no container go too (the intermediate images of a build), as dockerd does.
   */
  const removeUntaggedParents = async (id: string, out: DeleteItem[]): Promise<void> => {
    const parents = deps.parents;
    if (!parents) return;
    for (let p = parents.parentOf(id); p; p = parents.parentOf(p)) {
      cat.forget();
      const all = await cat.entries();
      const entry = all.find((x) => x.id === p);
      if (!entry || !isDangling(entry) || entry.records.some((r) => !isDanglingName(r.name))) return;
      if (all.some((x) => x.id !== p && parents.parentOf(x.id) === p)) return;
      if (deps.inUse(entry.id, '').length > 0) return;
      for (const r of entry.records) await cat.deleteRecord(r.name, false);
      out.push({ Deleted: entry.id });
      ctx.events.emit('image', 'delete', entry.id, { name: entry.id });
    }
  };

  const inUseBy = (e: ImageEntry, name: string): string[] => {
    const ids = new Set(deps.inUse(e.id, name));
    if (name === '') for (const t of repoTags(e)) for (const id of deps.inUse(e.id, t)) ids.add(id);
    return [...ids];
  };

  router.delete('/images/*name', async (c) => {
    const input = c.params.name!;
    const force = truthy(c.query.get('force'));
    const { entry: e, byId, matched } = await cat.resolve(input);
    const out: DeleteItem[] = [];
    const blocked = (users: string[]) =>
      errdefs.conflict(
        `conflict: unable to delete ${byId ? shortId(e.id) : familiar(matched[0]!.name)} (must be forced) - image is being used by stopped container ${shortId(users[0]!)}`,
      );
    if (!byId) {
      const others = e.records.filter((r) => !matched.includes(r) && !isDanglingName(r.name));
      if (others.length > 0) {
        await removeImage(e, matched, false, out, false);
        return out;
      }
      const users = inUseBy(e, familiar(matched[0]!.name));
      if (users.length > 0 && !force) throw blocked(users);
      await removeImage(e, e.records, true, out, true);
      cat.forget();
      return out;
    }
    const repos = new Set(
      e.records.flatMap((r) => {
        const p = parseName(r.name);
        return p ? [`${p.domain}/${p.path}`] : [];
      }),
    );
    if (repos.size > 1 && !force)
      throw errdefs.conflict(`conflict: unable to delete ${shortId(e.id)} (must be forced) - image is referenced in multiple repositories`);
    const users = inUseBy(e, '');
    if (users.length > 0 && !force) throw blocked(users);
    await removeImage(e, e.records, true, out, true);
    cat.forget();
    return out;
  });

  router.post('/images/prune', async (c) => {
    const f = parseFilters(c.query, ['dangling', 'until', 'label', 'label!']);
    const dangling = danglingFilter(f) ?? true;
    const until = (f.until ?? []).map((v) => parseTimeFilter(v, 'until'));
    const entries = await cat.entries();
    const victims = entries.filter(
      (e) =>
        (!dangling || isDangling(e)) &&
        until.every((t) => imageCreated(e) * 1000 < t) &&
        labelsMatch(f, e.config.config?.Labels) &&
        inUseBy(e, '').length === 0,
    );
    // reclaimed: layers no remaining image uses, and the victims' documents
    const keep = new Set(entries.filter((e) => !victims.includes(e)).flatMap((e) => e.chainIds));
    const counted = new Set<string>();
    let reclaimed = 0;
    for (const e of victims) {
      const sizes = await cat.layerSizes(e);
      e.chainIds.forEach((id, i) => {
        if (keep.has(id) || counted.has(id)) return;
        counted.add(id);
        reclaimed += sizes[i]!;
      });
    }
    const out: DeleteItem[] = [];
    for (let i = 0; i < victims.length; i++) await removeImage(victims[i]!, victims[i]!.records, true, out, i === victims.length - 1);
    cat.forget();
    ctx.events.emit('image', 'prune', '', { reclaimed: String(reclaimed) });
    return { ImagesDeleted: out.length > 0 ? out : null, SpaceReclaimed: reclaimed };
  });

  // --- load, save, import ---

  const jsonStream = (c: RequestContext, messages: object[]): Reply => {
    c.res.writeHead(200, { 'Content-Type': 'application/json', 'Api-Version': API_VERSION, Ostype: 'linux' });
    for (const m of messages) c.res.write(`${JSON.stringify(m)}\n`);
    c.res.end();
    return Reply.handled;
  };

  router.post('/images/load', async (c) => {
    const before = new Map((await cat.records()).map((r) => [r.name, r]));
    const imported = await cat.load(c.req as AsyncIterable<Buffer>);
    const orphans = await keepOrphans(before);
    const entries = await cat.entries();
    const messages: object[] = orphans.map((o) => ({
      stream: `The image ${familiar(o.name)} already exists, renaming the old one with ID ${o.id} to empty string\n`,
    }));
    const seen = new Set<string>();
    for (const img of imported) {
      const e = entries.find((x) => x.records.some((r) => r.name === img.name));
      const id = e?.id ?? img.target?.digest ?? '';
      if (seen.has(img.name)) continue;
      seen.add(img.name);
      const tagged = !isDanglingName(img.name) && parseName(img.name)?.tag !== undefined;
      messages.push({ stream: tagged ? `Loaded image: ${familiar(img.name)}\n` : `Loaded image ID: ${id}\n` });
      ctx.events.emit('image', 'load', id, { name: tagged ? familiar(img.name) : id });
    }
    if (imported.length === 0) messages.push({ stream: 'No images were loaded: the archive names no image\n' });
    cat.forget();
    return jsonStream(c, messages);
  });

  const save = async (c: RequestContext, inputs: string[]): Promise<Reply> => {
    if (inputs.length === 0) throw errdefs.invalidArgument('no image names given');
    const entries = await cat.entries();
    const names: string[] = [];
    const ids: { id: string; name: string }[] = [];
    for (const input of inputs) {
      const { entry, byId, matched } = await cat.resolve(input, entries);
      const recs = byId ? [entry.records.find((r) => repoTagOf(r.name)) ?? entry.records[0]!] : matched;
      for (const r of recs) if (!names.includes(r.name)) names.push(r.name);
      ids.push({ id: entry.id, name: byId ? entry.id : familiar(recs[0]!.name) });
    }
    let aborted = false;
    const onAbort: (() => void)[] = [];
    c.res.on('close', () => {
      if (!c.res.writableFinished) {
        aborted = true;
        onAbort.forEach((f) => f());
      }
    });
    await cat
      .save(
        names,
        () => c.res.writeHead(200, { 'Content-Type': 'application/x-tar', 'Api-Version': API_VERSION, Ostype: 'linux' }),
        async (b) => {
          if (!c.res.write(b)) await drainedOrGone(c.res);
        },
        {
          get aborted() {
            return aborted;
          },
          onAbort: (f) => onAbort.push(f),
        },
      )
      .catch((e: unknown) => {
        if (c.res.headersSent) {
          ctx.log.warn('image save failed mid-stream', { error: e instanceof Error ? e.message : String(e) });
          c.res.destroy();
          return;
        }
        throw e;
      });
    if (!c.res.destroyed) {
      c.res.end();
      for (const x of ids) ctx.events.emit('image', 'save', x.id, { name: x.name });
    }
    return Reply.handled;
  };
  router.get('/images/get', (c) =>
    save(
      c,
      c.query
        .getAll('names')
        .flatMap((n) => n.split(','))
        .filter(Boolean),
    ),
  );
  router.get('/images/*name/get', (c) => save(c, [c.params.name!]));

  router.post('/images/create', async (c) => {
    const fromImage = c.query.get('fromImage');
    const fromSrc = c.query.get('fromSrc');
    if (fromImage) return pullFromRegistry(c, ctx, dist);
    if (!fromSrc) throw errdefs.invalidArgument('fromImage or fromSrc is required');
    const url = fromSrc === '-' ? undefined : importUrl(fromSrc);
    const repo = c.query.get('repo') ?? '';
    const ref = repo ? repoTagReference(repo, c.query.get('tag') ?? '') : undefined;
    const config = applyChanges({}, c.query.getAll('changes'));
    const message = c.query.get('message') ?? '';
    const file = tempPath(ctx.dataRoot, 'import');
    try {
      const layer = await spoolLayer(url === undefined ? c.req : await downloadLayer(url), file);
      const img = buildImage(layer, config, message || `Imported from ${fromSrc}`, new Date());
      const name = ref ?? danglingName(img.manifestDigest);
      const before = new Map((await cat.records()).map((r) => [r.name, r]));
      await cat.load(ociLayout(layer, img, name));
      await keepOrphans(before);
      cat.forget();
      ctx.events.emit('image', 'import', img.configDigest, { name: ref ? familiar(ref) : img.configDigest });
      return jsonStream(c, [...(url === undefined ? [] : [{ status: `Downloading from ${url.href}` }]), { status: img.configDigest }]);
    } finally {
      fs.rmSync(file, { force: true });
    }
  });
}
