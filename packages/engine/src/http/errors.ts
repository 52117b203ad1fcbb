import { KindError, type ErrorKind } from '@gantry/linux';
import { oneLine } from '../one-line';

/**
 * An HTTP answer with a status and `{"message": ...}` body, the message on one line (`oneLine`:
 * it may quote client input). Only the HTTP layer makes these itself (405, 413,
 * an unroutable path); everything else throws an errdefs kind, mapped here by `toHttpError`.
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(oneLine(message));
    this.name = 'HttpError';
  }
}

export const badRequest = (m: string) => new HttpError(400, m);

/**
 * Docker's status for each errdefs kind (moby's httpstatus, and its mapping of containerd's gRPC
 * codes): the one table between kinds and HTTP.
 */
const HTTP_STATUS: Readonly<Record<ErrorKind, number>> = {
  'invalid-argument': 400,
  'out-of-range': 400,
  'not-found': 404,
  'already-exists': 409,
  conflict: 409,
  'failed-precondition': 409,
  aborted: 409,
  'not-modified': 304,
  'permission-denied': 403,
  unimplemented: 501,
  unavailable: 503,
  unauthenticated: 500,
  'resource-exhausted': 500,
  canceled: 500,
  'deadline-exceeded': 500,
  'data-loss': 500,
  internal: 500,
  unknown: 500,
};

export function httpStatusOf(kind: ErrorKind): number {
  return HTTP_STATUS[kind];
}

/** What the client gets for anything a handler throws: a kind's status, anything else 500, the message kept. */
export function toHttpError(e: unknown): HttpError {
  if (e instanceof HttpError) return e;
  if (e instanceof KindError) return new HttpError(httpStatusOf(e.kind), e.message);
  return new HttpError(500, e instanceof Error ? e.message : String(e));
}
