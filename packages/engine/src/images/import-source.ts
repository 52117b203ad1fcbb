/**
 * The layer of `POST /images/create?fromSrc=` (docker import): the request body for `-`, else a URL
 * the daemon downloads itself, as dockerd does (no scheme means http://; a non-2xx answer fails).
 */
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { errdefs } from '@gantry/linux';

/** `fromSrc` as a URL (dockerd prefixes `http://` when there is no scheme); only http and https are fetched. */
export function importUrl(fromSrc: string): URL {
  const text = fromSrc.includes('://') ? fromSrc : `http://${fromSrc}`;
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw errdefs.invalidArgument(`invalid import source ${JSON.stringify(fromSrc)}: not a URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw errdefs.invalidArgument(`unsupported import source scheme ${u.protocol.replace(/:$/, '')}`);
  return u;
}

/** The body of a GET of `u`, or the error dockerd gives for a failed download. */
export async function downloadLayer(u: URL, signal?: AbortSignal): Promise<Readable> {
  let res: Response;
  try {
    res = await fetch(u, { redirect: 'follow', signal });
  } catch (e) {
    throw errdefs.unavailable(`error downloading ${u.href}: ${(e as Error).message}`);
  }
  if (!res.ok || res.body === null) {
    const text = await res.text().catch(() => '');
    throw errdefs.invalidArgument(`failed to GET ${u.href} with status ${res.status} ${res.statusText}: ${text}`);
  }
  return Readable.fromWeb(res.body as WebReadableStream<Uint8Array>);
}
