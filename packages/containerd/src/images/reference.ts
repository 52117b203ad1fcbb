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

export class ReferenceError extends Error {}

const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DOMAIN = 'index.docker.io';
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
const DOMAIN = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?$|^\[[a-fA-F0-9:]+\](?::[0-9]+)?$/;

/** Parse and normalise; "latest" is added when there is neither tag nor digest. */
export function parseReference(input: string): Reference {
  if (input === '' || input.length > 255 + 128 + 100) throw new ReferenceError(`invalid reference format: ${JSON.stringify(input)}`);
  if (/[A-Z]/.test(input.split('@')[0]!.split(':')[0]!.split('/').slice(-1)[0] ?? '') && !input.includes('/')) {
    throw new ReferenceError(`invalid reference format: repository name must be lowercase`);
  }
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw new ReferenceError(`invalid reference format: bad digest ${JSON.stringify(digest)}`);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw new ReferenceError(`invalid reference format: bad tag ${JSON.stringify(tag)}`);
  }
  const parts = rest.split('/');
  let domain = DEFAULT_DOMAIN;
  const first = parts[0]!;
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase())) {
    domain = first;
    parts.shift();
    if (!DOMAIN.test(domain)) throw new ReferenceError(`invalid reference format: bad registry host ${JSON.stringify(domain)}`);
  }
  if (domain === LEGACY_DOMAIN) domain = DEFAULT_DOMAIN;
  if (parts.length === 0 || parts.some((p) => !COMPONENT.test(p))) {
    throw new ReferenceError(
      rest !== rest.toLowerCase()
        ? `invalid reference format: repository name (${rest}) must be lowercase`
        : `invalid reference format: ${JSON.stringify(input)}`,
    );
  }
  if (domain === DEFAULT_DOMAIN && parts.length === 1) parts.unshift('library');
  const path = parts.join('/');
  if (domain.length + 1 + path.length > 255) throw new ReferenceError('invalid reference format: repository name must not be more than 255 characters');
  if (!tag && !digest) tag = 'latest';
  return { domain, path, tag, digest };
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
