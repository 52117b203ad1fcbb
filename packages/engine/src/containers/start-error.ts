import { errdefs, KindError } from '@gantry/linux';
import { oneLine } from '../one-line';

/**
 * Exit codes dockerd records for a process that could not be started (moby's daemon/errors.go);
 * the docker CLI exits with them too (`docker run`, `docker exec`).
 */
const EXIT_CANNOT_INVOKE = 126;
const EXIT_NOT_FOUND = 127;
export const EXIT_START_FAILED = 128;

/** The start error dockerd answers with, and the exit code it records. */
export interface StartFailure {
  /** Of a kind (the client's 400s, or containerd's code); its message, on one line, is also `State.Error`. */
  error: KindError;
  exitCode: number;
}

/** What dockerd (moby's isInvalidCommand) takes for a command that is not there. */
const COMMAND_NOT_FOUND = [
  'executable file not found',
  'no such file or directory',
  'system cannot find the file specified',
  'failed to run runc create/exec call',
];

/**
 * A task or exec that gantry-containerd could not create or start, classified by its message as
 * dockerd classifies containerd's (setExitCodeFromError): the runtime's words decide the exit
 * code and whether the client asked for something impossible (400) or the engine failed (by the
 * gRPC code; UNKNOWN is 500). `prefix` is dockerd's own, e.g. "failed to create task for
 * container"; the message below it is kept whole, so the runtime's text stays at the end.
 */
export function startFailure(e: unknown, prefix?: string): StartFailure {
  const base = errdefs.fromGrpc(e);
  const message = oneLine(prefix ? `${prefix}: ${base.message}` : base.message);
  const lower = message.toLowerCase();
  if (lower.includes('permission denied')) return { error: errdefs.invalidArgument(message), exitCode: EXIT_CANNOT_INVOKE };
  // the CLI looks for "permission denied" to exit 126: dockerd adds it to "is a directory"
  if (lower.includes('is a directory')) return { error: errdefs.invalidArgument(`${message}: permission denied`), exitCode: EXIT_CANNOT_INVOKE };
  if (lower.includes('not a directory')) {
    const hint = 'Are you trying to mount a directory onto a file (or vice-versa)? Check if the specified host path exists and is the expected type';
    return { error: errdefs.invalidArgument(`${message}: ${hint}`), exitCode: EXIT_NOT_FOUND };
  }
  if (COMMAND_NOT_FOUND.some((s) => lower.includes(s))) return { error: errdefs.invalidArgument(message), exitCode: EXIT_NOT_FOUND };
  return { error: new KindError(base.kind, message), exitCode: EXIT_START_FAILED };
}
