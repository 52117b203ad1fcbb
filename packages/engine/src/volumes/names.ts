import { randomBytes } from 'node:crypto';

/** Docker's restricted name characters, as its messages print them. */
const RESTRICTED_NAME_CHARS = '[a-zA-Z0-9][a-zA-Z0-9_.-]';
const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** The label dockerd puts on volumes it made without a name (`-v /path`, image VOLUMEs, unnamed create). */
export const ANONYMOUS_LABEL = 'com.docker.volume.anonymous';

/** Why a name cannot be a local volume's name (Docker's wording), or undefined when it can. */
export function volumeNameError(name: string): string | undefined {
  if (name.length === 1) return 'volume name is too short, names should be at least two alphanumeric characters';
  if (!NAME_RE.test(name)) {
    return `${JSON.stringify(name)} includes invalid characters for a local volume name, only ${JSON.stringify(RESTRICTED_NAME_CHARS)} are allowed. If you intended to pass a host directory, use absolute path`;
  }
  return undefined;
}

/** A name for an anonymous volume: 64 hex digits, as dockerd's random ids. */
export function anonymousVolumeName(): string {
  return randomBytes(32).toString('hex');
}
