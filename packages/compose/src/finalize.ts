/**
 * The last step of loading: each service's defaults and canonical values (env_file folded into
 * environment, variables without a value taken from the environment, durations in Go's form,
 * sizes in bytes, scale from deploy.replicas, the default network, an image name for a built
 * service), then the references between services, networks and volumes checked.
 */
import * as fs from 'node:fs';
import { readDotenv } from './dotenv';
import { ComposeError } from './errors';
import { dependencyOrder } from './graph';
import type { Lookup } from './interpolate';
import type { Project, ServiceConfig } from './model';
import { formatDuration, parseBytes, parseDuration } from './units';

const DURATIONS = ['interval', 'timeout', 'start_period', 'start_interval'] as const;

export function finalService(name: string, input: ServiceConfig, project: string, lookup: Lookup, file: string): ServiceConfig {
  const where = `services.${name}`;
  const s: ServiceConfig = { ...input };
  try {
    if (s.env_file !== undefined || s.environment !== undefined) {
      const env: Record<string, string | null> = {};
      for (const f of (s.env_file ?? []) as { path: string; required?: boolean }[]) {
        if (f.required === false && !fs.existsSync(f.path)) continue;
        Object.assign(env, readDotenv(f.path, lookup));
      }
      for (const [k, v] of Object.entries(s.environment ?? {})) {
        if (v !== null) env[k] = v;
        else {
          const fromEnv = lookup(k);
          if (fromEnv !== undefined) env[k] = fromEnv;
          else delete env[k];
        }
      }
      delete s.env_file;
      s.environment = env;
    }
    if (s.build !== undefined) {
      s.build = { ...s.build, dockerfile: s.build.dockerfile ?? 'Dockerfile' };
      s.image ??= `${project}-${name}`;
    }
    if (s.image === undefined) throw new ComposeError(`${where}: has neither an image nor a build context specified`);
    if (s.healthcheck !== undefined) {
      const h = { ...s.healthcheck };
      if (h.test?.[0] === 'NONE') {
        h.disable = true;
        delete h.test;
      }
      for (const k of DURATIONS) if (h[k] !== undefined) h[k] = formatDuration(parseDuration(h[k], `${where}.healthcheck.${k}`));
      s.healthcheck = h;
    }
    if (s.stop_grace_period !== undefined) s.stop_grace_period = formatDuration(parseDuration(s.stop_grace_period, `${where}.stop_grace_period`));
    if (s.mem_limit !== undefined) s.mem_limit = parseBytes(s.mem_limit, `${where}.mem_limit`);
    const limits = s.deploy?.resources?.limits;
    if (limits?.memory !== undefined) limits.memory = parseBytes(limits.memory, `${where}.deploy.resources.limits.memory`);
    const replicas = s.deploy?.replicas;
    if (replicas !== undefined && s.scale !== undefined && replicas !== s.scale)
      throw new ComposeError(`${where}: scale (${s.scale}) and deploy.replicas (${replicas}) differ`);
    s.scale = replicas ?? s.scale ?? 1;
    if (s.networks === undefined && s.network_mode === undefined) s.networks = { default: null };
  } catch (e) {
    if (e instanceof ComposeError) throw new ComposeError(e.message, file);
    throw e;
  }
  return s;
}

export function checkReferences(p: Project): void {
  const file = p.configFiles[0];
  for (const [name, s] of Object.entries(p.services)) {
    for (const [dep, d] of Object.entries(s.depends_on ?? {})) {
      if (dep in p.services) continue;
      if (d.required === false) continue;
      const why = dep in p.disabledServices ? ` (it is not in an active profile)` : '';
      throw new ComposeError(`services.${name}.depends_on: service "${dep}" is undefined${why}`, file);
    }
    for (const n of Object.keys(s.networks ?? {}))
      if (!(n in p.networks)) throw new ComposeError(`services.${name}.networks: network "${n}" is undefined`, file);
    for (const v of s.volumes ?? [])
      if (v.type === 'volume' && v.source !== undefined && v.source !== '' && !(v.source in p.volumes))
        throw new ComposeError(`services.${name}.volumes: named volume "${v.source}" is used but no declaration was found in the volumes section`, file);
  }
  try {
    dependencyOrder(p.services);
  } catch (e) {
    if (e instanceof ComposeError) throw new ComposeError(e.message, file);
    throw e;
  }
}
