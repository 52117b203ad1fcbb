/** Errors of the network layer, each with the HTTP status Docker answers it with. */
export class NetworkError extends Error {
  override name = 'NetworkError';
  constructor(
    readonly status: 400 | 403 | 404 | 409 | 500,
    message: string,
  ) {
    super(message);
  }
}

export const invalid = (m: string) => new NetworkError(400, m);
export const forbidden = (m: string) => new NetworkError(403, m);
export const missing = (m: string) => new NetworkError(404, m);
export const conflicting = (m: string) => new NetworkError(409, m);
