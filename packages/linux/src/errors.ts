import { constants } from 'node:os';

const ERRNO_NAMES: Record<number, string> = Object.fromEntries(Object.entries(constants.errno).map(([name, num]) => [num, name]));

export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `E${errno}`;
}

/** A failed system call: carries the call, its subject and errno so callers can branch on `code`. */
export class SysError extends Error {
  readonly code: string;
  constructor(
    readonly syscall: string,
    readonly errno: number,
    readonly subject?: string,
  ) {
    super(`${syscall}${subject ? ` ${subject}` : ''}: ${errnoName(errno)} (${describeErrno(errno)})`);
    this.name = 'SysError';
    this.code = errnoName(errno);
  }
}

const DESCRIPTIONS: Record<string, string> = {
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or directory',
  ESRCH: 'no such process',
  EINTR: 'interrupted system call',
  EIO: 'input/output error',
  EBADF: 'bad file descriptor',
  EAGAIN: 'resource temporarily unavailable',
  ENOMEM: 'cannot allocate memory',
  EACCES: 'permission denied',
  EBUSY: 'device or resource busy',
  EEXIST: 'file exists',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  EINVAL: 'invalid argument',
  ENOSPC: 'no space left on device',
  EROFS: 'read-only file system',
  ENOSYS: 'function not implemented',
  ENOTSUP: 'operation not supported',
  ECONNREFUSED: 'connection refused',
};

export function describeErrno(errno: number): string {
  return DESCRIPTIONS[errnoName(errno)] ?? `errno ${errno}`;
}
