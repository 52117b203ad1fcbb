import { KindError, type ErrorKind } from '@gantry/linux';

/** Errors of the network layer, each of an errdefs kind (gantryd's router gives it Docker's HTTP status). */
export class NetworkError extends KindError {
  override name = 'NetworkError';
  constructor(kind: ErrorKind, message: string) {
    super(kind, message);
  }
}

/** A host port asked for is held by something else; dockerd answers with its own wording around `message`. */
export class PortAllocatedError extends NetworkError {
  override name = 'PortAllocatedError';
  constructor(
    readonly hostIP: string,
    readonly hostPort: number,
  ) {
    super('internal', `Bind for ${hostIP}:${hostPort} failed: port is already allocated`);
  }
}

export const invalid = (m: string) => new NetworkError('invalid-argument', m);
export const forbidden = (m: string) => new NetworkError('permission-denied', m);
export const missing = (m: string) => new NetworkError('not-found', m);
export const conflicting = (m: string) => new NetworkError('conflict', m);
