/**
 * `com.docker.compose.config-hash`: as docker compose v2 computes it, the SHA-256 of the
 * service's resolved configuration without what does not need a new container (build, pull
 * policy, scale / deploy.replicas, depends_on, profiles). Keys are sorted, so the hash is stable
 * across runs and file orderings (it is not byte-identical to v2's, whose input is Go's JSON).
 */
import { createHash } from 'node:crypto';
import type { ServiceConfig } from './model';

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v !== null && typeof v === 'object')
    return Object.fromEntries(
      Object.entries(v)
        .filter(([, x]) => x !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, x]) => [k, canonical(x)]),
    );
  return v;
}

export function serviceHash(s: ServiceConfig): string {
  const { build: _b, pull_policy: _p, scale: _s, depends_on: _d, profiles: _pr, ...rest } = s;
  if (rest.deploy !== undefined) {
    const { replicas: _r, ...deploy } = rest.deploy;
    rest.deploy = deploy;
  }
  return createHash('sha256')
    .update(JSON.stringify(canonical(rest)))
    .digest('hex');
}
