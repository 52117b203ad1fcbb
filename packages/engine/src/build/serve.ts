/**
 * POST /build: the query (t, q, nocache, pull, target, buildargs, labels, networkmode,
 * dockerfile, ...), the context received into a temporary directory, the Dockerfile parsed, the
 * executor run under one lease, and the tags set only when the whole build succeeded.
 */
import { compileDockerignore, matchGlob, parseDockerfile } from '@gantry/dockerfile';
import { errdefs, KindError } from '@gantry/linux';
import { registryKeyHost, type Credentials } from '@gantry/registry';
import { decodeAuth } from '../api/bodies';
import { credentialsOf } from '../routes/distribution';
import type { ContainerManager } from '../containers/manager';
import { toHttpError } from '../http/errors';
import { Reply, type RequestContext } from '../http/router';
import { danglingName, familiar, normalizeOrBadRequest } from '../images/names';
import { BuildContext } from './build-context';
import { tagImage, withLease, type ImageDeps } from './commit';
import { asBuildError, Executor, type BuildOptions } from './executor';
import { ImageWriter, type WrittenImage } from './image-writer';
import { BuildError, BuildOutput } from './output';

const truthy = (v: string | null) => v !== null && v !== '' && v !== '0' && v.toLowerCase() !== 'false';

function jsonParam<T extends Record<string, unknown>>(q: URLSearchParams, name: string, check: (v: unknown) => boolean): T {
  const raw = q.get(name);
  if (!raw) return {} as T;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw errdefs.invalidArgument(`invalid ${name} parameter: not JSON`);
  }
  if (v === null) return {} as T;
  if (typeof v !== 'object' || Array.isArray(v) || !Object.values(v).every(check)) throw errdefs.invalidArgument(`invalid ${name} parameter`);
  return v as T;
}

export interface BuildRequest {
  tags: string[];
  dockerfile: string;
  quiet: boolean;
  opts: Omit<BuildOptions, 'match'>;
}

export function parseBuildQuery(q: URLSearchParams): BuildRequest {
  const tags = q.getAll('t').filter(Boolean).map(normalizeTag);
  const remote = q.get('remote');
  if (remote) throw errdefs.invalidArgument('remote build contexts are not supported: send the context as the request body');
  const platform = q.get('platform');
  if (platform && platform !== 'linux' && !platform.startsWith(`linux/${process.arch === 'x64' ? 'amd64' : process.arch}`))
    throw errdefs.invalidArgument(`platform ${platform} is not supported: this builder builds for the host's platform only`);
  const target = q.get('target');
  return {
    tags,
    dockerfile: q.get('dockerfile') || 'Dockerfile',
    quiet: truthy(q.get('q')),
    opts: {
      ...(target ? { target } : {}),
      noCache: truthy(q.get('nocache')),
      pull: truthy(q.get('pull')),
      buildArgs: jsonParam<Record<string, string | null>>(q, 'buildargs', (v) => v === null || typeof v === 'string'),
      labels: jsonParam<Record<string, string>>(q, 'labels', (v) => typeof v === 'string'),
      networkMode: q.get('networkmode') || 'default',
    },
  };
}

/** A tag as `docker build -t` gives it (latest when none), refused before the build starts. */
function normalizeTag(t: string): string {
  const name = normalizeOrBadRequest(t);
  if (name.includes('@')) throw errdefs.invalidArgument(`invalid tag ${JSON.stringify(t)}: a build cannot be tagged with a digest`);
  return name;
}

export async function serveBuild(c: RequestContext, deps: ImageDeps, containers: ContainerManager): Promise<Reply> {
  const req = parseBuildQuery(c.query);
  const out = new BuildOutput(c.res, req.quiet);
  let ctx: BuildContext | undefined;
  // docker build interrupted: the client closes the connection and the build stops, leaving nothing running
  const abort = new AbortController();
  const onClose = () => {
    if (!c.res.writableEnded) abort.abort();
  };
  c.res.once('close', onClose);
  try {
    ctx = await BuildContext.receive(deps.ctx.dataRoot, c.req);
    const text = ctx.readText(req.dockerfile);
    if (text === undefined) throw errdefs.invalidArgument(`Cannot locate specified Dockerfile: ${req.dockerfile}`);
    const df = parseDockerfile(text);
    // .dockerignore also on this side (API clients other than the CLI send whole directories)
    const ignore = ctx.readText('.dockerignore');
    if (ignore !== undefined) ctx.exclude(compileDockerignore(ignore));
    const credentials = registryConfig(c);
    const context = ctx;
    const img = await withLease(deps, 'build', async (store) => {
      const writer = new ImageWriter(deps.ctx.cd, store, deps.images);
      const x = new Executor(
        deps,
        containers,
        writer,
        store,
        context,
        { ...req.opts, match: matchGlob, credentials: (domain) => credentials.get(domain), signal: abort.signal },
        out,
      );
      const built = await x.build(df);
      if (!built.id) throw new BuildError('No image was generated. Is your Dockerfile empty?');
      return built;
    });
    out.aux(img.id);
    out.stream(`Successfully built ${img.id.slice('sha256:'.length, 'sha256:'.length + 12)}\n`);
    const written = img as WrittenImage;
    for (const t of req.tags) {
      await tagImage(deps.images, written, t);
      deps.ctx.events.emit('image', 'tag', img.id, { name: familiar(t) });
      out.stream(`Successfully tagged ${familiar(t)}\n`);
    }
    if (req.tags.length > 0 && written.target) await deps.images.deleteRecord(danglingName(written.target.digest), false);
    out.quietResult(img.id);
    deps.images.forget();
    out.end();
    return Reply.handled;
  } catch (caught) {
    const e = asBuildError(caught);
    deps.images.forget();
    if (!out.started && !(e instanceof BuildError)) throw e;
    const message = e instanceof KindError || e instanceof BuildError ? e.message : toHttpError(e).message;
    if (!out.started && e instanceof BuildError && e.code === undefined) throw errdefs.invalidArgument(message);
    out.error(message, e instanceof BuildError ? e.code : undefined);
    out.end();
    return Reply.handled;
  } finally {
    c.res.off('close', onClose);
    ctx?.dispose();
  }
}

/** X-Registry-Config: base64url JSON of registry → AuthConfig (what FROM may pull with); used for this build only. */
function registryConfig(c: RequestContext): Map<string, Credentials> {
  const raw = c.req.headers['x-registry-config'];
  const text = Array.isArray(raw) ? raw[0] : raw;
  const out = new Map<string, Credentials>();
  if (!text) return out;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64').toString('utf8'));
  } catch {
    throw errdefs.invalidArgument('invalid X-Registry-Config header: it must be base64url-encoded JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return out;
  for (const [server, auth] of Object.entries(parsed)) {
    const creds = credentialsOf(decodeAuth(auth));
    if (creds) out.set(registryKeyHost(server), creds);
  }
  return out;
}
