/** containerd's rules for identifiers and labels (both refused with INVALID_ARGUMENT). */
import { invalidArgument } from '../errors';

const IDENTIFIER_MAX = 76;
const IDENTIFIER_RE = /^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$/;
/** containerd bounds key + value of one label, so labels stay cheap to store and index. */
const LABEL_MAX = 4096;

/** Container ids (and other object names): alphanumerics joined by single ".", "_" or "-"; at most 76. */
export function validateIdentifier(what: string, id: string): void {
  if (id === '') throw invalidArgument(`${what}: identifier must not be empty`);
  if (id.length > IDENTIFIER_MAX) throw invalidArgument(`${what}: identifier ${JSON.stringify(id)} greater than maximum length (${IDENTIFIER_MAX} characters)`);
  if (!IDENTIFIER_RE.test(id)) throw invalidArgument(`${what}: identifier ${JSON.stringify(id)} must match ${IDENTIFIER_RE.source}`);
}

export function validateLabels(what: string, labels: Readonly<Record<string, string>>): void {
  for (const [k, v] of Object.entries(labels)) {
    if (k === '') throw invalidArgument(`${what}: label key must not be empty`);
    if (Buffer.byteLength(k) + Buffer.byteLength(v) > LABEL_MAX) {
      throw invalidArgument(`${what}: label key and value greater than maximum size (${LABEL_MAX} bytes), key: ${k.slice(0, 64)}`);
    }
  }
}

/** Labels with empty values dropped: containerd treats setting "" as removing the label. */
export function pruneLabels(labels: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(labels).filter(([, v]) => v !== ''));
}
