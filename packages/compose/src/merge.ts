/**
 * The Compose Specification's merge rules for several `-f` files and for `extends`: mappings are
 * merged key by key (the later file wins), most sequences are replaced, and a few are combined:
 * ports, expose, dns, env_file and similar lists are appended without duplicates, volumes are
 * merged by container path. Both sides are already in long syntax (syntax.ts).
 */
import type { ServiceConfig, VolumeMount } from './model';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Lists appended (duplicates dropped) rather than replaced. */
const APPENDED = new Set([
  'ports',
  'expose',
  'dns',
  'dns_search',
  'dns_opt',
  'env_file',
  'cap_add',
  'cap_drop',
  'devices',
  'tmpfs',
  'security_opt',
  'external_links',
  'links',
  'volumes_from',
  'group_add',
  'extra_hosts',
  'secrets',
  'configs',
]);

/** Later wins; nested mappings merged; sequences replaced. */
function deepMerge(base: unknown, over: unknown): unknown {
  if (!isObj(base) || !isObj(over)) return over === undefined ? base : over;
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = k in base ? deepMerge(base[k], v) : v;
  return out;
}

function appendUnique(a: unknown[], b: unknown[]): unknown[] {
  const seen = new Set(a.map((x) => JSON.stringify(x)));
  return [...a, ...b.filter((x) => !seen.has(JSON.stringify(x)))];
}

export function mergeService(base: ServiceConfig, over: ServiceConfig): ServiceConfig {
  const out: ServiceConfig = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = base[k];
    if (b === undefined) out[k] = v;
    else if (k === 'volumes' && Array.isArray(b) && Array.isArray(v)) {
      const byTarget = new Map<string, VolumeMount>();
      for (const m of [...(b as VolumeMount[]), ...(v as VolumeMount[])]) byTarget.set(m.target, m);
      out.volumes = [...byTarget.values()];
    } else if (APPENDED.has(k) && Array.isArray(b) && Array.isArray(v)) out[k] = appendUnique(b, v);
    else if (k === 'command' || k === 'entrypoint') out[k] = v as string[] | null;
    else out[k] = deepMerge(b, v);
  }
  return out;
}

/** Merge two whole files (top-level keys: services per service, others deep). */
export function mergeFiles(base: Obj, over: Obj): Obj {
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (k === 'services' && isObj(base.services) && isObj(v)) {
      const services: Obj = { ...base.services };
      for (const [name, svc] of Object.entries(v)) {
        const prev = services[name];
        services[name] = prev === undefined ? svc : mergeService(prev as ServiceConfig, svc as ServiceConfig);
      }
      out.services = services;
    } else out[k] = deepMerge(base[k], v);
  }
  return out;
}
