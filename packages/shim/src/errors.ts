import { errdefs, KindError } from '@gantry/linux';

export type RuntimeOperation = 'create' | 'start' | 'exec';

/**
 * A failed runtime call, worded as containerd's runc shim words it (`OCI runtime create failed:
 * <the runtime's last error>`), on one line, the runtime's own text kept whole at the end, and of
 * the kind the runtime's error carries (its gRPC status follows from that). Clients (dockerd, the
 * docker CLI) classify by that text: "executable file not found", "permission denied".
 */
export function runtimeFailure(op: RuntimeOperation, e: unknown): KindError {
  const said = (e instanceof Error ? e.message : String(e)).trim().replace(/\s*\n\s*/g, ' ');
  return new KindError(errdefs.kindOf(e), `OCI runtime ${op} failed: ${said}`, { cause: e });
}
