import { grpcCode, kindOfGrpcCode } from './grpc';
import { ownKind, type ErrorKind } from './kinds';

/**
 * The kind of an error: the one it carries, or for a failed gRPC call the kind of its status
 * code; `'unknown'` for anything else.
 */
export function kindOf(e: unknown): ErrorKind {
  const code = grpcCode(e);
  return ownKind(e) ?? (code !== undefined ? kindOfGrpcCode(code) : 'unknown');
}

export const isInvalidArgument = (e: unknown) => kindOf(e) === 'invalid-argument';
export const isNotFound = (e: unknown) => kindOf(e) === 'not-found';
export const isAlreadyExists = (e: unknown) => kindOf(e) === 'already-exists';
export const isConflict = (e: unknown) => kindOf(e) === 'conflict';
export const isFailedPrecondition = (e: unknown) => kindOf(e) === 'failed-precondition';
export const isUnavailable = (e: unknown) => kindOf(e) === 'unavailable';
