/**
 * How a command ends other than with success, and the exit status docker gives each: 125 for a
 * usage error of a flag (docker's StatusError from flag parsing), 1 for everything else it
 * reports (missing arguments, unknown commands, daemon errors, an unreachable daemon).
 */
import { ConnectionError, EngineError } from '@gantry/client';
import { TemplateError } from '@gantry/format';

export class CliError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** A status with nothing to print: the container's (or exec's) own exit status for run, start -a, attach, exec. */
export class ExitStatus extends CliError {
  constructor(status: number) {
    super('', status);
    this.name = 'ExitStatus';
  }
}

/** The line docker prints for an error a command did not handle itself, and its exit status. */
export function describeError(e: unknown): { message: string; status: number } {
  if (e instanceof CliError) return { message: e.message, status: e.status };
  if (e instanceof ConnectionError) return { message: `Cannot connect to the Gantry daemon at ${e.host}. Is the daemon running?`, status: 1 };
  if (e instanceof EngineError) return { message: `Error response from daemon: ${e.message}`, status: 1 };
  if (e instanceof TemplateError) return { message: `template parsing error: ${e.message}`, status: 64 };
  return { message: e instanceof Error ? e.message : String(e), status: 1 };
}
