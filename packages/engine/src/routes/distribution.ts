/**
 * Docker's registry endpoints over @gantry/registry: pull (`POST /images/create?fromImage=`),
 * push (`POST /images/{name}/push`), login (`POST /auth`) and `GET /distribution/{name}/json`.
 * Credentials come per request (X-Registry-Auth: base64url JSON AuthConfig, or the /auth body),
 * are used for that request's registry only, and are never logged or stored.
 */
import { InvalidReferenceError, parsePlatform, type Platform } from '@gantry/oci';
import { decodeAuth, type AuthBody } from '../api/bodies';
import { errdefs, KindError } from '@gantry/linux';
import { API_VERSION } from '@gantry/engine-api';
import { RegistryError, registryKeyHost, type Credentials, type JsonMessage } from '@gantry/registry';
import type { DistributionBackend } from '../backend/distribution';
import type { EngineContext } from '../context';
import { HttpError, toHttpError } from '../http/errors';
import type { RequestContext, Router } from '../http/router';
import { Reply } from '../http/router';
import { danglingName, familiar, normalizeOrBadRequest, parseName } from '../images/names';

/** Docker's AuthConfig (X-Registry-Auth and the body of POST /auth), decoded by `decodeAuth`. */
export function credentialsOf(a: AuthBody): Credentials | undefined {
  if (a.identitytoken) return { identityToken: a.identitytoken };
  if (a.registrytoken) return { registryToken: a.registrytoken };
  let { username, password } = a;
  if (!username && a.auth) {
    const plain = Buffer.from(a.auth, 'base64').toString('utf8');
    const i = plain.indexOf(':');
    if (i >= 0) [username, password] = [plain.slice(0, i), plain.slice(i + 1)];
  }
  return username || password ? { username: username ?? '', password: password ?? '' } : undefined;
}

/** The X-Registry-Auth header (base64url JSON); a malformed one is a 400, as dockerd answers. */
function registryAuthHeader(c: RequestContext): Credentials | undefined {
  const raw = c.req.headers['x-registry-auth'];
  const text = Array.isArray(raw) ? raw[0] : raw;
  if (!text) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64').toString('utf8'));
  } catch {
    throw errdefs.invalidArgument('invalid X-Registry-Auth header: it must be base64url-encoded JSON');
  }
  if (parsed === null || typeof parsed !== 'object') throw errdefs.invalidArgument('invalid X-Registry-Auth header: it must be a JSON object');
  return credentialsOf(decodeAuth(parsed));
}

/**
 * Docker's status for a registry failure. `transfer`: for pull and push an auth failure is not a
 * 401, as with dockerd: the CLI answers a 401 there by prompting for a login.
 */
function registryHttpError(e: unknown, transfer = false): HttpError {
  if (e instanceof HttpError || e instanceof KindError) return toHttpError(e);
  if (e instanceof RegistryError) {
    const status = e.kind === 'auth' ? (transfer ? 500 : 401) : e.kind === 'not-found' || e.kind === 'platform' ? 404 : e.kind === 'invalid' ? 400 : 500;
    return new HttpError(status, e.message);
  }
  // a reference the registry client could not parse (@gantry/oci) is the client's mistake
  return toHttpError(e instanceof InvalidReferenceError ? errdefs.invalidArgument(e.message) : e);
}

/**
 * A JSON-message stream that starts the 200 response with its first message: a failure before
 * that is still an ordinary error response, one after it an `errorDetail` message (as dockerd).
 */
class MessageStream {
  constructor(private readonly c: RequestContext) {}

  get started(): boolean {
    return this.c.res.headersSent;
  }

  send = (m: JsonMessage): void => {
    const res = this.c.res;
    if (res.writableEnded || res.destroyed) return;
    if (!res.headersSent) res.writeHead(200, { 'Content-Type': 'application/json', 'Api-Version': API_VERSION, Ostype: 'linux' });
    res.write(`${JSON.stringify(m)}\n`);
  };

  /** Finish: rethrow errors that can still be HTTP errors, otherwise stream them. */
  finish(e?: unknown): Reply {
    if (e !== undefined) {
      const err = registryHttpError(e, true);
      if (!this.started) throw err;
      this.send({ errorDetail: { message: err.message }, error: err.message });
    }
    this.c.res.end();
    return Reply.handled;
  }
}

function platformQuery(c: RequestContext): Platform | undefined {
  const p = c.query.get('platform');
  if (!p) return undefined;
  try {
    return parsePlatform(p);
  } catch (e) {
    throw errdefs.invalidArgument((e as Error).message);
  }
}

/** POST /images/create?fromImage=&tag=&platform= (the pull half of /images/create). */
export async function pullFromRegistry(c: RequestContext, ctx: EngineContext, dist: DistributionBackend): Promise<Reply> {
  const fromImage = c.query.get('fromImage') ?? '';
  const tag = c.query.get('tag') ?? '';
  // the tag may be a digest ("sha256:...") or be in fromImage already
  const input = tag === '' ? fromImage : tag.includes(':') ? `${fromImage}@${tag}` : `${fromImage}:${tag}`;
  const name = normalizeOrBadRequest(input);
  const ref = parseName(name)!;
  const platform = platformQuery(c);
  const creds = registryAuthHeader(c);
  const client = dist.client(ref.domain, creds);
  const out = new MessageStream(c);
  // docker pull interrupted: the client closes the connection, the pull stops and leaves nothing
  const abort = new AbortController();
  const onClose = () => {
    if (!c.res.writableEnded) abort.abort();
  };
  c.res.once('close', onClose);
  try {
    // a tag moved off an image leaves that image untagged, as dockerd does
    const r = await client.pull(dist.store(), name, { progress: out.send, signal: abort.signal, danglingName, ...(platform ? { platform } : {}) });
    ctx.events.emit('image', 'pull', familiar(r.name), { name: familiar(r.name) });
    return out.finish();
  } catch (e) {
    ctx.log.info('pull failed', { image: familiar(name), error: e instanceof Error ? e.message : String(e) });
    return out.finish(e);
  } finally {
    c.res.off('close', onClose);
    client.close();
  }
}

export function registerDistributionRoutes(router: Router, ctx: EngineContext, dist: DistributionBackend): void {
  router.post('/images/*name/push', async (c) => {
    const repo = c.params.name!;
    const tag = c.query.get('tag') ?? '';
    const base = normalizeOrBadRequest(repo);
    const ref = parseName(base)!;
    const creds = registryAuthHeader(c);
    const store = dist.store();
    let names: string[];
    if (tag !== '') names = [normalizeOrBadRequest(`${repo.replace(/:[^/]*$/, '')}:${tag}`)];
    else if (repo.slice(repo.lastIndexOf('/') + 1).includes(':')) names = [base];
    else {
      // no tag: every tag of the repository, as docker push --all-tags
      names = (await dist.imageNames())
        .filter((n) => {
          const p = parseName(n);
          return p !== undefined && p.domain === ref.domain && p.path === ref.path && p.tag !== undefined && !p.digest;
        })
        .sort();
      if (names.length === 0) throw errdefs.notFound(`An image does not exist locally with the tag: ${familiar(base).replace(/:latest$/, '')}`);
    }
    const client = dist.client(ref.domain, creds);
    const out = new MessageStream(c);
    try {
      for (const n of names) {
        const r = await client.push(store, n, { progress: out.send });
        ctx.events.emit('image', 'push', familiar(r.name), { name: familiar(r.name) });
      }
      return out.finish();
    } catch (e) {
      ctx.log.info('push failed', { image: familiar(base), error: e instanceof Error ? e.message : String(e) });
      return out.finish(e);
    } finally {
      client.close();
    }
  });

  router.post('/auth', async (c) => {
    const body = decodeAuth(await c.json<unknown>());
    const server = body.serveraddress ? registryKeyHost(body.serveraddress) : 'docker.io';
    const creds = credentialsOf(body);
    const client = dist.client(server, creds);
    try {
      await client.login(server);
    } catch (e) {
      const err = registryHttpError(e);
      throw new HttpError(err.status === 404 ? 500 : err.status, err.message);
    } finally {
      client.close();
    }
    return { Status: 'Login Succeeded', IdentityToken: '' };
  });

  router.get('/distribution/*name/json', async (c) => {
    const name = normalizeOrBadRequest(c.params.name!);
    const ref = parseName(name)!;
    const client = dist.client(ref.domain, registryAuthHeader(c));
    try {
      return await client.inspect(name);
    } catch (e) {
      throw registryHttpError(e);
    } finally {
      client.close();
    }
  });
}
