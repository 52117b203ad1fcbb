/**
 * The container endpoints that look at its files or its cgroup: stats, changes (docker diff),
 * export, and archive (docker cp: HEAD stats a path, GET reads it as a tar, PUT extracts a tar).
 * Paths are resolved inside the container's root filesystem (see containers/confined-path.ts);
 * volumes and bind mounts are not looked into.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { EngineContext } from '../context';
import { checkArchive, extractArchive, rootTrees, spool, tarTrees } from '../containers/archive';
import { overlayChanges } from '../containers/changes';
import { containerAbsPath, containerBaseName, resolveInRoot, SymlinkLoopError } from '../containers/confined-path';
import type { ContainerManager } from '../containers/manager';
import { encodePathStat, pathStat, PATH_STAT_HEADER, type ContainerPathStat } from '../containers/path-stat';
import type { ContainerRecord } from '../containers/record';
import { RootfsAccess } from '../containers/rootfs-access';
import { assemble, emptyStats, fromMetric, hostSample, ZERO_TIME, type ContainerSample, type DockerStats } from '../containers/stats';
import { resolveUserSpec } from '../containers/users';
import { badRequest, HttpError, notFound } from '../http/errors';
import { Reply, type RequestContext, type Router } from '../http/router';

function flag(q: URLSearchParams, name: string, fallback: boolean): boolean {
  const v = q.get(name);
  if (v === null || v === '') return fallback;
  return v === '1' || v.toLowerCase() === 'true';
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

/** An AbortSignal that fires when the client goes away. */
function clientGone(c: RequestContext): AbortSignal {
  const ac = new AbortController();
  c.res.once('close', () => ac.abort());
  return ac.signal;
}

/** Stream a tar generator as the response body; mid-stream failures can only cut the stream. */
async function sendTar(c: RequestContext, gen: AsyncGenerator<Buffer>, headers: Record<string, string> = {}): Promise<void> {
  c.res.writeHead(200, { 'Content-Type': 'application/x-tar', ...headers });
  try {
    await pipeline(Readable.from(gen, { objectMode: false }), c.res);
  } catch {
    c.res.destroy();
  }
}

export function registerContainerFileRoutes(router: Router, ctx: EngineContext, mgr: ContainerManager): void {
  const store = mgr.store;
  const access = new RootfsAccess(ctx);
  const tmpDir = path.join(ctx.dataRoot, 'tmp');
  const attrs = (r: ContainerRecord) => ({ image: r.Image, name: r.Name.slice(1) });

  // ---- stats ----

  const sample = async (id: string): Promise<ContainerSample | undefined> => {
    const rec = store.find(id);
    if (!rec?.State.Running) return undefined;
    try {
      const r = await ctx.cd.call(ctx.cd.tasks, ctx.cd.tasks.metrics, { filters: [`id==${id}`] }, 5000);
      const m = r.metrics.find((x) => x.id === id);
      return m ? fromMetric(m) : undefined;
    } catch {
      return undefined; // the task went away between the check and the call
    }
  };

  router.get('/containers/:id/stats', async (c) => {
    const rec = store.get(c.params.id!);
    const stream = flag(c.query, 'stream', true);
    const oneShot = flag(c.query, 'one-shot', false);
    if (oneShot && stream) throw badRequest('cannot have stream=true and one-shot=true');
    const next = async (prev?: DockerStats): Promise<DockerStats> => {
      const s = await sample(rec.Id);
      return s ? assemble(rec.Name, rec.Id, new Date(), s, hostSample(), prev) : emptyStats(rec.Name, rec.Id);
    };
    if (!stream) {
      if (!rec.State.Running || oneShot) return next();
      // like dockerd: a first sample primes precpu_stats, so CPU % is computable from one answer
      const first = await next();
      await sleep(1000, clientGone(c));
      return next(first.read === ZERO_TIME ? undefined : first);
    }
    const gone = clientGone(c);
    c.res.writeHead(200, { 'Content-Type': 'application/json' });
    let prev: DockerStats | undefined;
    while (!gone.aborted && store.find(rec.Id)) {
      const cur = await next(prev);
      if (gone.aborted) break;
      c.res.write(`${JSON.stringify(cur)}\n`);
      prev = cur.read === ZERO_TIME ? undefined : cur;
      await sleep(1000, gone);
    }
    c.res.end();
    return Reply.handled;
  });

  // ---- changes, export ----

  router.get('/containers/:id/changes', async (c) => {
    const rec = store.get(c.params.id!);
    const { upper, lowers } = await access.layers(rec);
    const changes = overlayChanges(upper, lowers);
    return changes.length > 0 ? changes : null;
  });

  router.get('/containers/:id/export', async (c) => {
    const rec = store.get(c.params.id!);
    await access.withRoot(rec, 'read', (root) => sendTar(c, tarTrees(rootTrees(root))));
    ctx.events.emit('container', 'export', rec.Id, attrs(rec));
    return Reply.handled;
  });

  // ---- archive (docker cp) ----

  const requirePath = (c: RequestContext): string => {
    const p = c.query.get('path');
    if (p === null || p === '') throw badRequest('Path cannot be empty');
    if (p.includes('\0')) throw badRequest('invalid path');
    return p;
  };

  /** Stat `p` in the container: the parent followed in scope, the last element not (Docker's ResolvePath + StatPath). */
  const statIn = (root: string, ref: string, p: string): { host: string; stat: ContainerPathStat; isDir: boolean } => {
    const abs = containerAbsPath(p);
    let r;
    try {
      r = resolveInRoot(root, abs, false);
    } catch (e) {
      if (e instanceof SymlinkLoopError) throw badRequest(e.message);
      throw e;
    }
    let st: fs.BigIntStats;
    try {
      st = fs.lstatSync(r.host, { bigint: true });
    } catch {
      throw notFound(`Could not find the file ${p} in container ${ref}`);
    }
    let linkTarget = '';
    if (st.isSymbolicLink()) linkTarget = resolveInRoot(root, abs, true).inContainer;
    return { host: r.host, stat: pathStat(containerBaseName(abs), st, linkTarget), isDir: st.isDirectory() };
  };

  router.head('/containers/:id/archive', async (c) => {
    const ref = c.params.id!;
    const rec = store.get(ref);
    const p = requirePath(c);
    const stat = await access.withRoot(rec, 'read', async (root) => statIn(root, ref, p).stat);
    return new Reply(200, undefined, { [PATH_STAT_HEADER]: encodePathStat(stat) });
  });

  router.get('/containers/:id/archive', async (c) => {
    const ref = c.params.id!;
    const rec = store.get(ref);
    const p = requirePath(c);
    await access.withRoot(rec, 'read', async (root) => {
      const { host, stat } = statIn(root, ref, p);
      const name = stat.name === '/' ? '.' : stat.name;
      await sendTar(c, tarTrees([{ host, name }]), { [PATH_STAT_HEADER]: encodePathStat(stat) });
    });
    ctx.events.emit('container', 'archive-path', rec.Id, attrs(rec));
    return Reply.handled;
  });

  router.put('/containers/:id/archive', async (c) => {
    const ref = c.params.id!;
    const rec = store.get(ref);
    const p = requirePath(c);
    const noOverwriteDirNonDir = flag(c.query, 'noOverwriteDirNonDir', false);
    const copyUIDGID = flag(c.query, 'copyUIDGID', false);
    fs.mkdirSync(tmpDir, { recursive: true, mode: 0o700 });
    const spoolDir = fs.mkdtempSync(path.join(tmpDir, 'put-'));
    const file = path.join(spoolDir, 'body.tar');
    try {
      await access.withRoot(rec, 'write', async (root) => {
        let dest;
        try {
          dest = resolveInRoot(root, containerAbsPath(p), true);
        } catch (e) {
          throw e instanceof SymlinkLoopError ? badRequest(e.message) : e;
        }
        let st: fs.Stats;
        try {
          st = fs.lstatSync(dest.host);
        } catch {
          throw notFound(`Could not find the file ${p} in container ${ref}`);
        }
        if (!st.isDirectory()) throw badRequest('extraction point is not a directory');
        if ((rec.HostConfig as { ReadonlyRootfs?: boolean }).ReadonlyRootfs) throw badRequest('container rootfs is marked read-only');
        const chownTo = copyUIDGID ? ownerFor(root, rec) : undefined;
        // the whole archive is checked before anything is written
        await spool(c.req, file).catch((e: unknown) => {
          throw badRequest(`reading the archive: ${(e as Error).message}`);
        });
        await checkArchive(file);
        await extractArchive(file, root, dest.inContainer, { noOverwriteDirNonDir, ...(chownTo ? { chownTo } : {}) });
      });
    } finally {
      fs.rmSync(spoolDir, { recursive: true, force: true });
    }
    ctx.events.emit('container', 'extract-to-dir', rec.Id, attrs(rec));
    return new Reply(200);
  });
}

/** copyUIDGID: the container's user (Config.User, looked up in its /etc/passwd), or undefined to keep the archive's owners. */
function ownerFor(root: string, rec: ContainerRecord): { uid: number; gid: number } | undefined {
  const user = String((rec.Config as { User?: string }).User ?? '');
  if (user === '') return undefined;
  const read = (f: string) => {
    try {
      return fs.readFileSync(resolveInRoot(root, f, true).host, 'utf8');
    } catch {
      return '';
    }
  };
  try {
    const u = resolveUserSpec(user, read('/etc/passwd'), read('/etc/group'));
    return { uid: u.uid, gid: u.gid };
  } catch (e) {
    throw new HttpError(400, (e as Error).message);
  }
}
