/** Credential headers: X-Registry-Auth (one registry) and X-Registry-Config (build: per registry). */
import type { AuthConfig } from '@gantry/engine-api';

export function registryAuthHeader(auth: AuthConfig | undefined): Record<string, string> {
  return auth === undefined ? {} : { 'X-Registry-Auth': Buffer.from(JSON.stringify(auth)).toString('base64url') };
}

export function registryConfigHeader(byRegistry: Record<string, AuthConfig> | undefined): Record<string, string> {
  return byRegistry === undefined ? {} : { 'X-Registry-Config': Buffer.from(JSON.stringify(byRegistry)).toString('base64url') };
}
