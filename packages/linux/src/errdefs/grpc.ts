/**
 * Error kinds ↔ gRPC status codes, the one table both directions use: gantry-containerd's and
 * gantry-shim's servers answer a thrown error with `grpcStatusOf`, and clients (gantryd, the
 * registry, gantry-containerd calling a shim) turn a status back into a kind with `fromGrpc`. The
 * codes are the numbers of the gRPC protocol (grpc-js's `status` enum has the same values); this
 * package does not load grpc-js.
 */
import { KindError, ownKind, type ErrorKind } from './kinds';

export const GRPC_CODE = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

const TO_GRPC: Readonly<Record<ErrorKind, number>> = {
  'invalid-argument': GRPC_CODE.INVALID_ARGUMENT,
  'not-found': GRPC_CODE.NOT_FOUND,
  'already-exists': GRPC_CODE.ALREADY_EXISTS,
  // containerd sends conflicts and "not modified" as FAILED_PRECONDITION too
  conflict: GRPC_CODE.FAILED_PRECONDITION,
  'failed-precondition': GRPC_CODE.FAILED_PRECONDITION,
  'not-modified': GRPC_CODE.FAILED_PRECONDITION,
  aborted: GRPC_CODE.ABORTED,
  'out-of-range': GRPC_CODE.OUT_OF_RANGE,
  'permission-denied': GRPC_CODE.PERMISSION_DENIED,
  unauthenticated: GRPC_CODE.UNAUTHENTICATED,
  'resource-exhausted': GRPC_CODE.RESOURCE_EXHAUSTED,
  unavailable: GRPC_CODE.UNAVAILABLE,
  unimplemented: GRPC_CODE.UNIMPLEMENTED,
  canceled: GRPC_CODE.CANCELLED,
  'deadline-exceeded': GRPC_CODE.DEADLINE_EXCEEDED,
  'data-loss': GRPC_CODE.DATA_LOSS,
  internal: GRPC_CODE.INTERNAL,
  unknown: GRPC_CODE.UNKNOWN,
};

const FROM_GRPC: ReadonlyMap<number, ErrorKind> = new Map(
  (Object.entries(TO_GRPC) as [ErrorKind, number][]).filter(([k]) => k !== 'conflict' && k !== 'not-modified').map(([k, c]) => [c, k]),
);

export function grpcCodeOf(kind: ErrorKind): number {
  return TO_GRPC[kind];
}

export function kindOfGrpcCode(code: number): ErrorKind {
  return FROM_GRPC.get(code) ?? 'unknown';
}

/** A status a gRPC call failed with, as grpc-js reports it (`code`, and the server's text in `details`). */
export interface GrpcStatusError {
  code: number;
  details: string;
}

export function isGrpcStatusError(e: unknown): e is GrpcStatusError {
  if (typeof e !== 'object' || e === null) return false;
  const s = e as Partial<GrpcStatusError>;
  return typeof s.code === 'number' && typeof s.details === 'string';
}

/** The gRPC code of a failed call (a numeric `code`; Node's own errors have string codes). */
export function grpcCode(e: unknown): number | undefined {
  const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  return typeof code === 'number' ? code : undefined;
}

/**
 * The status a server answers a thrown error with: its kind's code, a gRPC status from a call it
 * made passed on as it came, anything else UNKNOWN (containerd's errdefs.ErrUnknown).
 */
export function grpcStatusOf(e: unknown): GrpcStatusError {
  const own = ownKind(e);
  if (own) return { code: grpcCodeOf(own), details: (e as Error).message };
  if (isGrpcStatusError(e)) return { code: e.code, details: e.details };
  return { code: GRPC_CODE.UNKNOWN, details: e instanceof Error ? e.message : String(e) };
}

/**
 * A failed gRPC call as an error of its kind, with the server's text as the message (a KindError
 * passes through). `prefix` words it as containerd wraps a callee's error (`prefix: <text>`).
 */
export function fromGrpc(e: unknown, prefix?: string): KindError {
  if (e instanceof KindError && prefix === undefined) return e;
  let kind: ErrorKind;
  let text: string;
  const own = ownKind(e);
  if (own) {
    kind = own;
    text = (e as Error).message;
  } else if (grpcCode(e) !== undefined) {
    const call = e as { code: number; details?: string; message?: string };
    kind = kindOfGrpcCode(call.code);
    text = call.details || call.message || String(e);
  } else {
    kind = 'unknown';
    text = e instanceof Error ? e.message : String(e);
  }
  return new KindError(kind, prefix === undefined ? text : `${prefix}: ${text}`, { cause: e });
}
