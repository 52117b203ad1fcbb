/**
 * Snapshot keys as RecordStore keys. containerd allows any non-empty string as a snapshot key
 * ("extract-1 sha256:…", "k8s.io/3/…"), but a record key is a file name: no "/", no NUL, not "."
 * or "..", bounded length. Keys are percent-encoded byte-wise (letters, digits, "_", "-" and a
 * non-leading "." stay as they are; everything else becomes %XX of its UTF-8 bytes), which is
 * reversible; an encoding longer than MAX_ENCODED becomes "~" + sha256 of the key, and the record
 * keeps the real key (its `name`), so lookups stay exact and listings show the original.
 */
import { createHash } from 'node:crypto';

const MAX_ENCODED = 200; // + ".json" stays well under NAME_MAX (255)
const PLAIN = /^[A-Za-z0-9_-]$/;

export function encodeKey(key: string): string {
  let out = '';
  for (const b of Buffer.from(key, 'utf8')) {
    const c = String.fromCharCode(b);
    if (b < 0x80 && (PLAIN.test(c) || (c === '.' && out !== ''))) out += c;
    else out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out.length > MAX_ENCODED ? `~${createHash('sha256').update(key, 'utf8').digest('hex')}` : out;
}

/** The key back from its encoding; undefined for a hashed (long) key, whose record holds the key. */
export function decodeKey(encoded: string): string | undefined {
  if (encoded.startsWith('~')) return undefined;
  const bytes: number[] = [];
  for (let i = 0; i < encoded.length; i++) {
    if (encoded[i] === '%') {
      bytes.push(parseInt(encoded.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(encoded.charCodeAt(i));
  }
  return Buffer.from(bytes).toString('utf8');
}
