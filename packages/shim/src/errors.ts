import { ConfigError, ContainerIdError, StateError } from '@gantry/runtime';

/** Errors of the task API, with the gRPC status each maps to. */
export type ShimErrorCode = 'NOT_FOUND' | 'ALREADY_EXISTS' | 'FAILED_PRECONDITION' | 'INVALID_ARGUMENT' | 'UNAVAILABLE' | 'UNKNOWN';

export class ShimError extends Error {
  constructor(
    readonly code: ShimErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ShimError';
  }
}

/** The status an error of the runtime (or anything else a handler throws) reaches the client with. */
export function shimErrorCode(e: unknown): ShimErrorCode {
  if (e instanceof ShimError) return e.code;
  if (e instanceof ContainerIdError) return /does not exist/.test(e.message) ? 'NOT_FOUND' : /already exists/.test(e.message) ? 'ALREADY_EXISTS' : 'INVALID_ARGUMENT';
  if (e instanceof StateError) return 'FAILED_PRECONDITION';
  if (e instanceof ConfigError) return 'INVALID_ARGUMENT';
  // InitError (the process could not be set up) and the rest: containerd's errdefs.ErrUnknown
  return 'UNKNOWN';
}

export type RuntimeOperation = 'create' | 'start' | 'exec';

/**
 * A failed runtime call, worded as containerd's runc shim words it (`OCI runtime create failed:
 * <the runtime's last error>`), on one line, the runtime's own text kept whole at the end, and with
 * the status its kind maps to. Clients (dockerd, the docker CLI) classify by that text: "executable
 * file not found", "permission denied".
 */
export function runtimeFailure(op: RuntimeOperation, e: unknown): ShimError {
  const said = (e instanceof Error ? e.message : String(e)).trim().replace(/\s*\n\s*/g, ' ');
  return new ShimError(shimErrorCode(e), `OCI runtime ${op} failed: ${said}`);
}
