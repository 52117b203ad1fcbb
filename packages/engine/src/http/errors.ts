import { status as Code } from '@grpc/grpc-js';

/**
 * An error with the HTTP status Docker answers it with; the body is `{"message": ...}`. Messages
 * quote client input (a signal, a path, a name): line breaks in it are escaped, so a message is
 * one line in the CLI's output and in the daemon's log whatever the client sent.
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message.replace(/[\r\n]/g, (c) => (c === '\n' ? '\\n' : '\\r')));
    this.name = 'HttpError';
  }
}

export const badRequest = (m: string) => new HttpError(400, m);
export const notFound = (m: string) => new HttpError(404, m);
export const conflict = (m: string) => new HttpError(409, m);
export const notModified = () => new HttpError(304, '');
export const serverError = (m: string) => new HttpError(500, m);

/** gRPC status codes from gantry-containerd, as Docker maps containerd's errdefs. */
export function fromGrpc(e: unknown): HttpError {
  const err = e as { code?: number; details?: string; message?: string };
  const message = err.details || err.message || String(e);
  switch (err.code) {
    case Code.INVALID_ARGUMENT:
    case Code.OUT_OF_RANGE:
      return new HttpError(400, message);
    case Code.NOT_FOUND:
      return new HttpError(404, message);
    case Code.ALREADY_EXISTS:
    case Code.FAILED_PRECONDITION:
    case Code.ABORTED:
      return new HttpError(409, message);
    case Code.UNIMPLEMENTED:
      return new HttpError(501, message);
    case Code.UNAVAILABLE:
      return new HttpError(503, message);
    default:
      return new HttpError(500, message);
  }
}
