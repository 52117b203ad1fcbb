/** Why a cgroup operation failed; callers branch on `code`, not on the message. */
export type CgroupErrorCode =
  | 'INVALID_PATH' // cgroupsPath is malformed or escapes the hierarchy root
  | 'INVALID_RESOURCE' // a limit the kernel would reject, or a hostile unified key
  | 'UNSUPPORTED' // the host lacks the controller/file the request needs
  | 'NOT_FOUND'
  | 'BUSY' // cgroup still has tasks or children, or a limit is below current usage
  | 'TIMEOUT'
  | 'IO';

export class CgroupError extends Error {
  constructor(
    readonly code: CgroupErrorCode,
    message: string,
    /** The cgroupfs file or directory involved, when there is one. */
    readonly file?: string,
    /** errno name of the underlying failure (EBUSY, ENOENT…), when there is one. */
    readonly errno?: string,
  ) {
    super(message);
    this.name = 'CgroupError';
  }
}

/** A cgroupsPath that cannot be used: malformed, escaping the root, or naming the root itself. */
export class CgroupPathError extends CgroupError {
  constructor(
    message: string,
    readonly cgroupsPath: string,
  ) {
    super('INVALID_PATH', message);
    this.name = 'CgroupPathError';
  }
}

export function errnoOf(err: unknown): string | undefined {
  if (err instanceof CgroupError) return err.errno;
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/** Turn an fs failure on `file` into a CgroupError, keeping errno; CgroupErrors pass through. */
export function toCgroupError(err: unknown, what: string, file: string): CgroupError {
  if (err instanceof CgroupError) return err;
  const errno = errnoOf(err);
  const code = errno === 'EBUSY' ? 'BUSY' : errno === 'ENOENT' ? 'NOT_FOUND' : 'IO';
  const detail = err instanceof Error ? err.message : String(err);
  return new CgroupError(code, `${what}: ${detail}`, file, errno);
}
