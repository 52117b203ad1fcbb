/**
 * Credentials from a Docker client config (`~/.docker/config.json`): `auths.<server>.auth`
 * (base64 "user:password") or identitytoken, `credHelpers.<server>` and `credsStore` through the
 * `docker-credential-<name> get` protocol (server URL on stdin, JSON answer on stdout).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Credentials } from './auth';

export interface DockerConfig {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string; registrytoken?: string }>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
}

/** The key Docker files Docker Hub credentials under. */
export const DOCKER_HUB_KEY = 'https://index.docker.io/v1/';

export function defaultConfigPath(): string {
  return path.join(process.env.DOCKER_CONFIG ?? path.join(os.homedir(), '.docker'), 'config.json');
}

export function readDockerConfig(file = defaultConfigPath()): DockerConfig {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as DockerConfig;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new Error(`reading ${file}: ${(e as Error).message}`, { cause: e });
  }
}

/** "localhost:5000" for "http://localhost:5000/v2/", "docker.io" for Docker Hub's keys. */
export function registryKeyHost(key: string): string {
  const host = key.replace(/^https?:\/\//, '').split('/')[0]!;
  return host === 'index.docker.io' || host === 'registry-1.docker.io' ? 'docker.io' : host;
}

/** Run `docker-credential-<helper> get` for `server`. */
export function credentialHelperGet(helper: string, server: string, timeoutMs = 10_000): Promise<Credentials | undefined> {
  return new Promise((resolve, reject) => {
    const p = spawn(`docker-credential-${helper}`, ['get'], { stdio: ['pipe', 'pipe', 'pipe'], env: process.env });
    let out = '';
    let err = '';
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`credential helper docker-credential-${helper}: ${e.message}`));
    });
    p.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) {
        // "credentials not found in native keychain": no credentials, not a failure
        if (/credentials not found/i.test(out + err)) return resolve(undefined);
        return reject(new Error(`credential helper docker-credential-${helper} failed: ${(out + err).trim().slice(0, 200)}`));
      }
      try {
        const r = JSON.parse(out) as { Username?: string; Secret?: string };
        if (!r.Secret) return resolve(undefined);
        resolve(r.Username === '<token>' ? { identityToken: r.Secret } : { username: r.Username ?? '', password: r.Secret });
      } catch {
        reject(new Error(`credential helper docker-credential-${helper} answered malformed JSON`));
      }
    });
    p.stdin.end(server);
  });
}

/** Credentials for registry `domain` ("docker.io", "localhost:5000") from a Docker config. */
export async function credentialsFromConfig(cfg: DockerConfig, domain: string): Promise<Credentials | undefined> {
  const keys = Object.keys(cfg.auths ?? {}).filter((k) => registryKeyHost(k) === domain);
  const server = domain === 'docker.io' ? DOCKER_HUB_KEY : (keys[0] ?? domain);
  const helper = Object.entries(cfg.credHelpers ?? {}).find(([k]) => registryKeyHost(k) === domain)?.[1] ?? cfg.credsStore;
  if (helper) {
    const c = await credentialHelperGet(helper, server);
    if (c) return c;
  }
  for (const k of keys) {
    const a = cfg.auths![k]!;
    if (a.identitytoken) return { identityToken: a.identitytoken };
    if (a.registrytoken) return { registryToken: a.registrytoken };
    if (a.auth) {
      const plain = Buffer.from(a.auth, 'base64').toString('utf8');
      const colon = plain.indexOf(':');
      if (colon < 0) throw new Error(`invalid auth entry for ${k} in the docker config`);
      return { username: plain.slice(0, colon), password: plain.slice(colon + 1) };
    }
    if (a.username || a.password) return { username: a.username ?? '', password: a.password ?? '' };
  }
  return undefined;
}
