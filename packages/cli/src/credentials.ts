/**
 * Registry credentials in the docker CLI's form: `auths` of `$DOCKER_CONFIG/config.json` (default
 * `~/.docker/config.json`), each `{"auth": base64("user:password")}` keyed by registry (Docker
 * Hub's key is `https://index.docker.io/v1/`). Shared with the docker CLI on purpose: a `docker
 * login` serves `gantry pull` and the other way round. Credential helpers are not run.
 */
import * as fs from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { AuthConfig } from '@gantry/client';

export const HUB_KEY = 'https://index.docker.io/v1/';

interface ConfigFile {
  auths?: Record<string, { auth?: string; identitytoken?: string }>;
  [key: string]: unknown;
}

function dockerConfigPath(env: NodeJS.ProcessEnv): string {
  return join(env.DOCKER_CONFIG ?? join(env.HOME ?? homedir(), '.docker'), 'config.json');
}

function readConfig(path: string): ConfigFile {
  try {
    return JSON.parse(fs.readFileSync(path, 'utf8')) as ConfigFile;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw e;
  }
}

/** The config key of a registry host: Docker Hub's legacy URL, else the host as typed. */
export function registryKey(server: string): string {
  const host = server.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  return host === 'docker.io' || host === 'index.docker.io' || host === 'registry-1.docker.io' ? HUB_KEY : host;
}

export function loadAuth(env: NodeJS.ProcessEnv, server: string): AuthConfig | undefined {
  const key = registryKey(server);
  const auths = readConfig(dockerConfigPath(env)).auths ?? {};
  const entry = auths[key] ?? auths[`https://${key}`] ?? auths[`http://${key}`];
  if (entry === undefined) return undefined;
  const out: AuthConfig = { serveraddress: key };
  if (entry.auth !== undefined && entry.auth !== '') {
    const plain = Buffer.from(entry.auth, 'base64').toString('utf8');
    const i = plain.indexOf(':');
    out.username = plain.slice(0, i);
    out.password = plain.slice(i + 1);
  }
  if (entry.identitytoken !== undefined) out.identitytoken = entry.identitytoken;
  return out;
}

/** Every stored credential (`auths` entries with an auth or a token), as docker's config.json holds them. */
export function allCredentials(env: NodeJS.ProcessEnv): Record<string, { auth?: string; identitytoken?: string }> {
  const out: Record<string, { auth?: string; identitytoken?: string }> = {};
  for (const [key, entry] of Object.entries(readConfig(dockerConfigPath(env)).auths ?? {})) {
    const kept = Object.fromEntries(Object.entries({ auth: entry.auth, identitytoken: entry.identitytoken }).filter(([, v]) => v !== undefined && v !== ''));
    if (Object.keys(kept).length > 0) out[key] = kept;
  }
  return out;
}

export function storeAuth(env: NodeJS.ProcessEnv, server: string, username: string, password: string): string {
  const path = dockerConfigPath(env);
  const cfg = readConfig(path);
  cfg.auths = { ...(cfg.auths ?? {}), [registryKey(server)]: { auth: Buffer.from(`${username}:${password}`).toString('base64') } };
  writeConfig(path, cfg);
  return path;
}

/** Removes a registry's entry; false when there was none. */
export function eraseAuth(env: NodeJS.ProcessEnv, server: string): boolean {
  const path = dockerConfigPath(env);
  const cfg = readConfig(path);
  const key = registryKey(server);
  if (cfg.auths?.[key] === undefined) return false;
  delete cfg.auths[key];
  writeConfig(path, cfg);
  return true;
}

function writeConfig(path: string, cfg: ConfigFile): void {
  fs.mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(cfg, null, '\t') + '\n', { mode: 0o600 });
  fs.renameSync(tmp, path);
}
