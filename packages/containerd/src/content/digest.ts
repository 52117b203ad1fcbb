/** Digests as the content store takes them: "sha256:<64 lowercase hex>" (the only algorithm stored). */
import { invalidArgument } from '../errors';

const DIGEST_RE = /^([a-z0-9]+(?:[.+_-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/;
const SHA256_HEX_RE = /^[a-f0-9]{64}$/;

/** The hex of a sha256 digest; INVALID_ARGUMENT for a malformed one or another algorithm. */
export function sha256Hex(digest: string): string {
  const m = DIGEST_RE.exec(digest);
  if (!m) throw invalidArgument(`digest ${JSON.stringify(digest)} is invalid: want "<algorithm>:<hex>"`);
  if (m[1] !== 'sha256') throw invalidArgument(`digest ${JSON.stringify(digest)}: unsupported digest algorithm ${JSON.stringify(m[1])} (sha256 only)`);
  if (!SHA256_HEX_RE.test(m[2]!)) throw invalidArgument(`digest ${JSON.stringify(digest)} is invalid: sha256 wants 64 lowercase hex digits`);
  return m[2]!;
}

export function isSha256Digest(digest: string): boolean {
  return digest.startsWith('sha256:') && SHA256_HEX_RE.test(digest.slice(7));
}
