/**
 * gantry-containerd's errors are errdefs kinds (@gantry/linux `errdefs`): a handler throws a kind,
 * and `toServiceError` turns it into the gRPC status the client sees, through errdefs' one table.
 */
import type { ServiceError } from '@grpc/grpc-js';
import { errdefs, type KindError } from '@gantry/linux';

export const { notFound, alreadyExists, invalidArgument, failedPrecondition } = errdefs;

/** Map anything thrown by a handler to a status for the client; grpc errors from shims pass through. */
export function toServiceError(e: unknown): Partial<ServiceError> {
  const { code, details } = errdefs.grpcStatusOf(e);
  return { code, message: details, details };
}

/**
 * `prefix: <message>` with the kind of `e` kept (a shim's gRPC status, a kind; anything else is
 * unknown), as containerd wraps a shim's error: the client sees why, from the runtime up.
 */
export function wrapError(e: unknown, prefix: string): KindError {
  return errdefs.fromGrpc(e, prefix);
}
