/**
 * The container endpoints that look at its files or its cgroup: stats, changes (docker diff),
 * export, and archive (docker cp: HEAD stats a path, GET reads it as a tar, PUT extracts a tar).
 * Paths are opened inside the container's root filesystem by file descriptor (containers/cp.ts,
 * containers/archive.ts); volumes and bind mounts are not looked into.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ContainerRootfs, ContainersBackend } from '../backend/containers';
import type { EngineContext } from '../context';
import { errdefs, linuxSys } from '@gantry/linux';
import { checkArchive, extractArchive, spool, tarDirContents, tarError, tarTree } from '../containers/archive';
import { overlayChanges } from '../containers/changes';
import { cpDestination, openCpSource, type CpSource } from '../containers/cp';
import { encodePathStat, PATH_STAT_HEADER } from '../containers/path-stat';
import type { ContainerRecord } from '../containers/record';
import { assemble, emptyStats, hostSample, ZERO_TIME, type ContainerSample, type DockerStats } from '../containers/stats';
import { readUserDb, resolveUserSpec } from '../containers/users';
import { drainedOrGone } from '../http/backpressure';
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

export function registerContainerFileRoutes(
  router: Router,
  ctx: EngineContext,
  containers: Pick<ContainersBackend, 'store' | 'sample'>,
  access: ContainerRootfs,
): void {
  const sys = linuxSys();
  const store = containers.store;
  const tmpDir = path.join(ctx.dataRoot, 'tmp');
  const attrs = (r: ContainerRecord) => ({ image: r.Image, name: r.Name.slice(1) });

  // ---- stats ----

  const sample = async (id: string): Promise<ContainerSample | undefined> => {
    const rec = store.find(id);
    return rec?.State.Running ? await containers.sample(id) : undefined;
  };

  router.get('/containers/:id/stats', async (c) => {
    const rec = store.get(c.params.id!);
    const stream = flag(c.query, 'stream', true);
    const oneShot = flag(c.query, 'one-shot', false);
    if (oneShot && stream) throw errdefs.invalidArgument('cannot have stream=true and one-shot=true');
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
      if (!c.res.write(`${JSON.stringify(cur)}\n`)) await drainedOrGone(c.res);
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
    await access.withRootFd(rec, 'read', (rootFd) => sendTar(c, tarDirContents(sys, rootFd)));
    ctx.events.emit('container', 'export', rec.Id, attrs(rec));
    return Reply.handled;
  });

  // ---- archive (docker cp) ----

  const requirePath = (c: RequestContext): string => {
    const p = c.query.get('path');
    if (p === null || p === '') throw errdefs.invalidArgument('Path cannot be empty');
    if (p.includes('\0')) throw errdefs.invalidArgument('invalid path');
    return p;
  };

  /** Open `p` in the container (the caller closes the node), or 404; a path the container makes loop is a 400. */
  const openIn = (rootFd: number, ref: string, p: string): CpSource => {
    let src: CpSource | undefined;
    try {
      src = openCpSource(sys, rootFd, p);
    } catch (e) {
      throw tarError(e);
    }
    if (!src) throw errdefs.notFound(`Could not find the file ${p} in container ${ref}`);
    return src;
  };

  router.head('/containers/:id/archive', async (c) => {
    const ref = c.params.id!;
    const rec = store.get(ref);
    const p = requirePath(c);
    const stat = await access.withRootFd(rec, 'read', async (rootFd) => {
      const src = openIn(rootFd, ref, p);
      sys.close(src.node.fd);
      return src.stat;
    });
    return new Reply(200, undefined, { [PATH_STAT_HEADER]: encodePathStat(stat) });
  });

  router.get('/containers/:id/archive', async (c) => {
    const ref = c.params.id!;
    const rec = store.get(ref);
    const p = requirePath(c);
    await access.withRootFd(rec, 'read', async (rootFd) => {
      const { node, stat } = openIn(rootFd, ref, p);
      try {
        const name = stat.name === '/' ? '.' : stat.name;
        await sendTar(c, tarTree(sys, node, name), { [PATH_STAT_HEADER]: encodePathStat(stat) });
      } finally {
        sys.close(node.fd);
      }
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
      await access.withRootFd(rec, 'write', async (rootFd) => {
        let dest: string | undefined; // a path, or 'not-dir'
        try {
          dest = cpDestination(sys, rootFd, p);
        } catch (e) {
          throw tarError(e);
        }
        if (dest === undefined) throw errdefs.notFound(`Could not find the file ${p} in container ${ref}`);
        if (dest === 'not-dir') throw errdefs.invalidArgument('extraction point is not a directory');
        if ((rec.HostConfig as { ReadonlyRootfs?: boolean }).ReadonlyRootfs) throw errdefs.invalidArgument('container rootfs is marked read-only');
        const chownTo = copyUIDGID ? ownerFor(rootFd, rec) : undefined;
        // the whole archive is checked before anything is written
        await spool(c.req, file).catch((e: unknown) => {
          throw errdefs.invalidArgument(`reading the archive: ${(e as Error).message}`);
        });
        await checkArchive(file);
        await extractArchive(sys, file, rootFd, dest, { noOverwriteDirNonDir, ...(chownTo ? { chownTo } : {}) });
      });
    } finally {
      fs.rmSync(spoolDir, { recursive: true, force: true });
    }
    ctx.events.emit('container', 'extract-to-dir', rec.Id, attrs(rec));
    return new Reply(200);
  });
}

/** copyUIDGID: the container's user (Config.User, looked up in its /etc/passwd), or undefined to keep the archive's owners. */
function ownerFor(rootFd: number, rec: ContainerRecord): { uid: number; gid: number } | undefined {
  const user = String((rec.Config as { User?: string }).User ?? '');
  if (user === '') return undefined;
  try {
    const db = readUserDb(linuxSys(), rootFd);
    const u = resolveUserSpec(user, db.passwd, db.group);
    return { uid: u.uid, gid: u.gid };
  } catch (e) {
    throw errdefs.invalidArgument((e as Error).message);
  }
}
