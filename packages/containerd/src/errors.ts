import { status as Code, type ServiceError } from '@grpc/grpc-js';

/** An error with the gRPC status it must reach the client with. */
export class ApiError extends Error {
  constructor(
    readonly code: Code,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const notFound = (m: string) => new ApiError(Code.NOT_FOUND, m);
export const alreadyExists = (m: string) => new ApiError(Code.ALREADY_EXISTS, m);
export const invalidArgument = (m: string) => new ApiError(Code.INVALID_ARGUMENT, m);
export const failedPrecondition = (m: string) => new ApiError(Code.FAILED_PRECONDITION, m);

/** Map anything thrown by a handler to a status for the client; grpc errors from shims pass through. */
export function toServiceError(e: unknown): Partial<ServiceError> {
  if (e instanceof ApiError) return { code: e.code, message: e.message, details: e.message };
  const maybe = e as Partial<ServiceError>;
  if (typeof maybe?.code === 'number' && typeof maybe.details === 'string') return { code: maybe.code, message: maybe.details, details: maybe.details };
  const message = e instanceof Error ? e.message : String(e);
  return { code: Code.UNKNOWN, message, details: message };
}

/**
 * `prefix: <message>` with the status of `e` kept (a shim's gRPC status, an ApiError; anything
 * else is UNKNOWN), as containerd wraps a shim's error: the client sees why, from the runtime up.
 */
export function wrapError(e: unknown, prefix: string): ApiError {
  const s = toServiceError(e);
  return new ApiError(s.code ?? Code.UNKNOWN, `${prefix}: ${s.details ?? ''}`);
}
