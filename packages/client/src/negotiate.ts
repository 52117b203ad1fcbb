/** API version negotiation as the docker CLI does it: the lower of the client's and the daemon's. */
import { API_VERSION, compareApiVersions } from '@gantry/engine-api';

/** What a daemon that sends no version is taken to speak (the docker CLI's fallback). */
export const FALLBACK_API_VERSION = '1.24';

/**
 * The version to use given the daemon's `API-Version` ping header (absent: the fallback) and the
 * client's maximum.
 */
export function negotiateVersion(serverVersion: string | undefined, clientMax: string = API_VERSION): string {
  const server = serverVersion === undefined || serverVersion === '' ? FALLBACK_API_VERSION : serverVersion;
  return compareApiVersions(server, clientMax) < 0 ? server : clientMax;
}
