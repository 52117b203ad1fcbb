/** An error with the HTTP status Docker answers it with; the body is `{"message": ...}`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
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
    case 3: // INVALID_ARGUMENT
    case 11: // OUT_OF_RANGE
      return new HttpError(400, message);
    case 5: // NOT_FOUND
      return new HttpError(404, message);
    case 6: // ALREADY_EXISTS
    case 9: // FAILED_PRECONDITION
    case 10: // ABORTED
      return new HttpError(409, message);
    case 12: // UNIMPLEMENTED
      return new HttpError(501, message);
    case 14: // UNAVAILABLE
      return new HttpError(503, message);
    default:
      return new HttpError(500, message);
  }
}
