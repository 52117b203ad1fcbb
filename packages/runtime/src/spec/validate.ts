import * as path from 'node:path';
import { CAPABILITIES, RLIMIT } from '@gantry/linux';
import { ConfigError } from '../errors';
import type { NamespaceType, Spec } from './types';

const NAMESPACE_TYPES: ReadonlySet<string> = new Set(['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup', 'time']);

function isObject(v: unknown): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function need(cond: boolean, message: string): asserts cond {
  if (!cond) throw new ConfigError(message);
}

function stringArray(v: unknown, field: string): void {
  need(v === undefined || (Array.isArray(v) && v.every((s) => typeof s === 'string')), `${field} must be an array of strings`);
}

/**
 * Parse and check config.json text. Checks what would otherwise fail late inside the container
 * (types, required fields, namespace names, capability and rlimit names), so a bad bundle gets one
 * clear error before anything is created.
 */
export function parseSpec(text: string, source = 'config.json'): Spec {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${source}: invalid JSON: ${(e as Error).message}`);
  }
  need(isObject(raw), `${source}: must be a JSON object`);
  validateSpec(raw as unknown as Spec);
  return raw as unknown as Spec;
}

export function validateSpec(spec: Spec): void {
  need(typeof spec.ociVersion === 'string' && spec.ociVersion.length > 0, 'config.json: ociVersion is required');
  need(isObject(spec.root) && typeof spec.root!.path === 'string' && spec.root!.path.length > 0, 'config.json: root.path is required');
  need(isObject(spec.process), 'config.json: process is required');
  const proc = spec.process!;
  need(Array.isArray(proc.args) && proc.args.length > 0, 'config.json: process.args must name a program');
  stringArray(proc.args, 'process.args');
  stringArray(proc.env, 'process.env');
  need(typeof proc.cwd === 'string' && path.isAbsolute(proc.cwd), 'config.json: process.cwd must be an absolute path');
  need(isObject(proc.user) && Number.isInteger(proc.user.uid) && Number.isInteger(proc.user.gid), 'config.json: process.user needs integer uid and gid');
  if (proc.user.additionalGids !== undefined) {
    need(Array.isArray(proc.user.additionalGids) && proc.user.additionalGids.every(Number.isInteger), 'process.user.additionalGids must be integers');
  }
  if (proc.capabilities !== undefined) {
    need(isObject(proc.capabilities), 'process.capabilities must be an object');
    for (const set of ['bounding', 'effective', 'inheritable', 'permitted', 'ambient'] as const) {
      const list = proc.capabilities[set];
      stringArray(list, `process.capabilities.${set}`);
      for (const cap of list ?? []) need(cap in CAPABILITIES, `process.capabilities.${set}: unknown capability "${cap}"`);
    }
  }
  for (const rl of proc.rlimits ?? []) {
    need(isObject(rl) && typeof rl.type === 'string', 'process.rlimits entries need a type');
    need(rl.type in RLIMIT, `process.rlimits: unknown rlimit "${rl.type}"`);
    need(Number.isFinite(rl.soft) && Number.isFinite(rl.hard), `process.rlimits ${rl.type}: soft and hard must be numbers`);
    need(rl.soft <= rl.hard, `process.rlimits ${rl.type}: soft limit exceeds hard limit`);
  }
  if (proc.terminal !== undefined) need(typeof proc.terminal === 'boolean', 'process.terminal must be a boolean');
  for (const m of spec.mounts ?? []) {
    need(isObject(m) && typeof m.destination === 'string', 'mounts: every mount needs a destination');
    need(path.isAbsolute(m.destination), `mounts: destination "${m.destination}" must be absolute`);
    stringArray(m.options, `mounts[${m.destination}].options`);
  }
  const linux = spec.linux;
  if (linux !== undefined) {
    need(isObject(linux), 'linux must be an object');
    const seen = new Set<string>();
    for (const ns of linux.namespaces ?? []) {
      need(isObject(ns) && typeof ns.type === 'string', 'linux.namespaces entries need a type');
      need(NAMESPACE_TYPES.has(ns.type), `linux.namespaces: unknown namespace type "${ns.type}"`);
      need(!seen.has(ns.type), `linux.namespaces: duplicate namespace "${ns.type}"`);
      seen.add(ns.type);
      // unshare(CLONE_NEWTIME) only moves children, and the init stage execs itself.
      if (ns.type === 'time') throw new ConfigError('linux.namespaces: time namespaces are not supported');
      if (ns.path !== undefined) need(typeof ns.path === 'string' && path.isAbsolute(ns.path), `linux.namespaces ${ns.type}: path must be absolute`);
    }
    if (spec.hostname && !seen.has('uts')) throw new ConfigError('hostname is set but no new uts namespace is configured');
    for (const d of linux.devices ?? []) {
      need(isObject(d) && typeof d.path === 'string' && path.isAbsolute(d.path), 'linux.devices entries need an absolute path');
      need(['c', 'b', 'u', 'p'].includes(d.type), `linux.devices ${d.path}: unknown type "${d.type}"`);
    }
    for (const p of [...(linux.maskedPaths ?? []), ...(linux.readonlyPaths ?? [])]) {
      need(typeof p === 'string' && path.isAbsolute(p), `masked/readonly path "${String(p)}" must be absolute`);
    }
    if (linux.sysctl !== undefined) need(isObject(linux.sysctl), 'linux.sysctl must be an object');
  }
}

export function hasNamespace(spec: Spec, type: NamespaceType): boolean {
  return (spec.linux?.namespaces ?? []).some((n) => n.type === type);
}
