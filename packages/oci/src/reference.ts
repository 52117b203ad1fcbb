/**
 * Image references as Docker normalises them: "busybox" is "docker.io/library/busybox:latest",
 * a first component with a "." or ":" (or "localhost") is a registry host, tags and
 * "@sha256:" digests may both be present.
 */

export interface Reference {
  /** Registry host (with port), e.g. "docker.io", "localhost:5000". */
  domain: string;
  /** Repository path, e.g. "library/busybox". */
  path: string;
  tag?: string;
  digest?: string;
}

export class InvalidReferenceError extends Error {}

const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DOMAIN = 'index.docker.io';
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
const DOMAIN = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?$|^\[[a-fA-F0-9:]+\](?::[0-9]+)?$/;

/**
 * Parse and normalise; "latest" is added when there is neither tag nor digest. Errors carry the
 * messages Docker answers with ("invalid reference format", "invalid reference format: repository
 * name (library/Busybox) must be lowercase", ...).
 */
export function parseReference(input: string): Reference {
  if (input === '') throw new InvalidReferenceError('invalid reference format: repository name must have at least one component');
  // as Docker's ParseNormalizedNamed: an uppercase repository is named in the error
  const slash = input.indexOf('/');
  let remainder = slash >= 0 && looksLikeHost(input.slice(0, slash)) ? input.slice(slash + 1) : input;
  if (remainder === input && !input.includes('/')) remainder = `library/${input}`;
  const remote = remainder.includes(':') ? remainder.slice(0, remainder.indexOf(':')) : remainder;
  if (remote.toLowerCase() !== remote) throw new InvalidReferenceError(`invalid reference format: repository name (${remote}) must be lowercase`);
  const r = tryParse(input);
  if (!r) throw new InvalidReferenceError('invalid reference format');
  if (r.domain.length + 1 + r.path.length > 255)
    throw new InvalidReferenceError('invalid reference format: repository name must not be more than 255 characters');
  if (r.domain === LEGACY_DOMAIN) r.domain = DEFAULT_DOMAIN;
  if (r.domain === DEFAULT_DOMAIN && !r.path.includes('/')) r.path = `library/${r.path}`;
  if (!r.tag && !r.digest) r.tag = 'latest';
  return r;
}

const looksLikeHost = (first: string) => first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase();

/** The reference's parts as written (no defaults), or undefined when it is malformed. */
function tryParse(input: string): Reference | undefined {
  if (input.length > 255 + 128 + 100) return undefined;
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) return undefined;
    if (digest.startsWith('sha256:') && !/^sha256:[a-f0-9]{64}$/.test(digest)) return undefined;
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) return undefined;
  }
  const parts = rest.split('/');
  let domain = DEFAULT_DOMAIN;
  const first = parts[0]!;
  if (parts.length > 1 && looksLikeHost(first)) {
    domain = first;
    parts.shift();
    if (!DOMAIN.test(domain)) return undefined;
  }
  if (parts.length === 0 || parts.some((p) => !COMPONENT.test(p))) return undefined;
  return { domain, path: parts.join('/'), ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** The full normalised name: "docker.io/library/busybox:latest", "localhost:5000/x@sha256:...". */
export function formatReference(r: Reference): string {
  return `${r.domain}/${r.path}${r.tag ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;
}

export function normalizeReference(input: string): string {
  return formatReference(parseReference(input));
}

/** The short form Docker shows: "busybox:latest" for docker.io/library/busybox:latest. */
export function familiarReference(full: string): string {
  const r = parseReference(full);
  let name = r.domain === DEFAULT_DOMAIN ? r.path.replace(/^library\//, '') : `${r.domain}/${r.path}`;
  if (r.tag) name += `:${r.tag}`;
  if (r.digest) name += `@${r.digest}`;
  return name;
}
