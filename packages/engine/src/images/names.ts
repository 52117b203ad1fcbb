/**
 * Image names as gantryd keeps them in containerd's image store, and how Docker shows them.
 *
 * Every name is a normalised reference ("docker.io/library/busybox:latest", or
 * "docker.io/library/busybox@sha256:..." for a digest-only name). An image that lost its last tag
 * but must stay (a tag moved away from it, `docker import` without a repository) is kept under
 * "moby-dangling@<manifest digest>" as dockerd's containerd image store does; Docker shows such an
 * image as untagged ("<none>").
 */
import { errdefs } from '@gantry/linux';
import { familiarReference, normalizeReference, parseReference } from '@gantry/oci';

const DANGLING_PREFIX = 'moby-dangling@';

export function isDanglingName(name: string): boolean {
  return name.startsWith(DANGLING_PREFIX) || name.startsWith(`docker.io/library/${DANGLING_PREFIX}`);
}

/** The name of an untagged image (normalised, so it also goes through archive imports). */
export function danglingName(manifestDigest: string): string {
  return `docker.io/library/${DANGLING_PREFIX}${manifestDigest}`;
}

export interface ParsedName {
  domain: string;
  path: string;
  tag?: string;
  digest?: string;
}

/** The parsed reference of a stored name, or undefined for dangling or foreign names. */
export function parseName(name: string): ParsedName | undefined {
  if (isDanglingName(name)) return undefined;
  try {
    return parseReference(name);
  } catch {
    return undefined;
  }
}

/** "busybox" for docker.io/library/busybox, "localhost:5000/x" otherwise. */
export function familiarRepo(r: ParsedName): string {
  return r.domain === 'docker.io' ? r.path.replace(/^library\//, '') : `${r.domain}/${r.path}`;
}

/** The RepoTag Docker shows for a stored name ("busybox:latest"), if it carries a tag. */
export function repoTagOf(name: string): string | undefined {
  const r = parseName(name);
  return r?.tag ? `${familiarRepo(r)}:${r.tag}` : undefined;
}

/** The RepoDigest ("busybox@sha256:...") a stored name gives its target, if it is not dangling. */
export function repoDigestOf(name: string, targetDigest: string): string | undefined {
  const r = parseName(name);
  return r ? `${familiarRepo(r)}@${targetDigest}` : undefined;
}

/** A name as Docker prints it in messages and events. */
export function familiar(name: string): string {
  try {
    return familiarReference(name);
  } catch {
    return name;
  }
}

/** Normalise a user's reference; a malformed one is a 400 with the reference parser's message. */
export function normalizeOrBadRequest(input: string): string {
  try {
    return normalizeReference(input);
  } catch (e) {
    throw errdefs.invalidArgument((e as Error).message);
  }
}

/**
 * The reference `docker tag` and `docker import` create from `repo` and `tag` query parameters
 * (the tag may also be inside `repo`). Digests are refused, as are 64-hex "repositories".
 */
export function repoTagReference(repo: string, tag: string): string {
  if (repo === '') throw errdefs.invalidArgument('repository name must have at least one component');
  if (/^[a-f0-9]{64}$/.test(repo)) throw errdefs.invalidArgument(`invalid repository name (${repo}), cannot specify 64-byte hexadecimal strings`);
  if (tag !== '' && !/^[\w][\w.-]{0,127}$/.test(tag)) throw errdefs.invalidArgument(`invalid tag format`);
  let r: ParsedName;
  try {
    r = parseReference(tag ? `${repo}:${tag}` : repo);
  } catch (e) {
    throw errdefs.invalidArgument((e as Error).message);
  }
  if (r.digest) throw errdefs.invalidArgument('refusing to create a tag with a digest reference');
  if (tag && r.tag !== tag) throw errdefs.invalidArgument(`invalid reference format: ${JSON.stringify(`${repo}:${tag}`)}`);
  return `${r.domain}/${r.path}:${r.tag ?? 'latest'}`;
}

/** The 12-hex short form of an ID ("sha256:0123..." → "0123456789ab"). */
export function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}
