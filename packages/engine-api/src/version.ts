/** The Engine API version gantryd announces, and the oldest a client may ask for (dockerd's minimum). */
export const API_VERSION = '1.45';
export const MIN_API_VERSION = '1.24';

/** gantryd's unix socket when no `-H` is given, and a client's host when none is configured. */
export const DEFAULT_UNIX_SOCKET = '/run/gantry/gantry.sock';

/** Compare two `major.minor` API versions: negative, 0 or positive, as `a` is older, equal or newer. */
export function compareApiVersions(a: string, b: string): number {
  const pa = a.split('.').map((n) => Number.parseInt(n, 10) || 0);
  const pb = b.split('.').map((n) => Number.parseInt(n, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
