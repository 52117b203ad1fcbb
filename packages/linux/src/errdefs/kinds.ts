/**
 * Error kinds, as containerd's errdefs and moby's errdefs class errors: code that fails says what
 * kind of failure it is (not found, invalid argument, conflict...), and only the edges translate
 * a kind to a wire status: gRPC codes in `grpc.ts` beside this file, HTTP statuses in gantryd's
 * router (packages/engine/src/http/errors.ts). A kind travels with the error (`kind` on the
 * object), so no layer has to guess it from the message.
 */

export const ERROR_KINDS = [
  'invalid-argument',
  'not-found',
  'already-exists',
  /** The request fits no current state of the object (Docker's 409 Conflict). */
  'conflict',
  'failed-precondition',
  /** Nothing changed (Docker's 304: start of a running container). */
  'not-modified',
  'aborted',
  'out-of-range',
  /** Refused by rule, whoever asks (Docker's 403 Forbidden). */
  'permission-denied',
  'unauthenticated',
  'resource-exhausted',
  'unavailable',
  'unimplemented',
  'canceled',
  'deadline-exceeded',
  'data-loss',
  'internal',
  'unknown',
] as const;

export type ErrorKind = (typeof ERROR_KINDS)[number];

const KINDS: ReadonlySet<string> = new Set(ERROR_KINDS);

export function isErrorKind(v: unknown): v is ErrorKind {
  return typeof v === 'string' && KINDS.has(v);
}

/** An error that says its kind; typed errors of a package extend it to carry one. */
export class KindError extends Error {
  override name = 'KindError';
  constructor(
    readonly kind: ErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * The kind of a KindError (or of a subclass: the runtime's errors, the network's). Other classes
 * may have a `kind` field of their own vocabulary (RegistryError's 'auth'); it is not read.
 */
export function ownKind(e: unknown): ErrorKind | undefined {
  return e instanceof KindError ? e.kind : undefined;
}

export const invalidArgument = (message: string) => new KindError('invalid-argument', message);
export const notFound = (message: string) => new KindError('not-found', message);
export const alreadyExists = (message: string) => new KindError('already-exists', message);
export const conflict = (message: string) => new KindError('conflict', message);
export const failedPrecondition = (message: string) => new KindError('failed-precondition', message);
/** Docker's 304: the request changed nothing (start of a running container). */
export const notModified = () => new KindError('not-modified', '');
export const outOfRange = (message: string) => new KindError('out-of-range', message);
export const permissionDenied = (message: string) => new KindError('permission-denied', message);
export const resourceExhausted = (message: string) => new KindError('resource-exhausted', message);
export const unavailable = (message: string) => new KindError('unavailable', message);
export const unimplemented = (message: string) => new KindError('unimplemented', message);
export const canceled = (message: string) => new KindError('canceled', message);
export const internal = (message: string) => new KindError('internal', message);
