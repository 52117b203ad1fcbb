/**
 * What the client throws: an `EngineError` per HTTP status class the Engine API uses (with the
 * daemon's `message`), a `ConnectionError` when the daemon cannot be reached, and a `ProgressError`
 * when a progress stream (pull, push, build, load) reports a failure in-band.
 */

/** An error answer of the daemon: its HTTP status and the `message` of its JSON body. */
export class EngineError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class NotModifiedError extends EngineError {}
export class BadRequestError extends EngineError {}
export class UnauthorizedError extends EngineError {}
export class ForbiddenError extends EngineError {}
export class NotFoundError extends EngineError {}
export class ConflictError extends EngineError {}
export class PayloadTooLargeError extends EngineError {}
export class ServerError extends EngineError {}
export class NotImplementedError extends EngineError {}
export class UnavailableError extends EngineError {}

const BY_STATUS: Record<number, new (status: number, message: string) => EngineError> = {
  304: NotModifiedError,
  400: BadRequestError,
  401: UnauthorizedError,
  403: ForbiddenError,
  404: NotFoundError,
  409: ConflictError,
  413: PayloadTooLargeError,
  500: ServerError,
  501: NotImplementedError,
  503: UnavailableError,
};

/** The typed error for an answer with `status` and `body` (JSON `{"message"}`, or plain text). */
export function errorFromResponse(status: number, body: Buffer): EngineError {
  const text = body.toString('utf8').trim();
  let message = text;
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && typeof (parsed as { message?: unknown }).message === 'string') {
      message = (parsed as { message: string }).message;
    }
  } catch {
    // not JSON: the text is the message
  }
  if (message === '') message = `HTTP ${status}`;
  const Ctor = BY_STATUS[status] ?? (status >= 500 ? ServerError : status >= 400 ? BadRequestError : EngineError);
  return new Ctor(status, message);
}

/** The daemon is not there (no socket, refused, permission denied, TLS failure). */
export class ConnectionError extends Error {
  constructor(
    /** The host as configured, e.g. `unix:///run/gantry/gantry.sock`. */
    readonly host: string,
    override readonly cause: Error,
  ) {
    super(`Cannot connect to the Gantry daemon at ${host}. Is the daemon running? (${cause.message})`);
    this.name = 'ConnectionError';
  }
}

/** A progress stream's in-band failure (`errorDetail` / `error` message). */
export class ProgressError extends Error {
  constructor(
    message: string,
    readonly code?: number,
  ) {
    super(message);
    this.name = 'ProgressError';
  }
}
