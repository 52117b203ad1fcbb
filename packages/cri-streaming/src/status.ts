/**
 * The Kubernetes metav1.Status a v4+ remotecommand error stream carries, as kubelet writes it, and
 * how client-go reads an exit code back out of it.
 */

export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

export interface Status {
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: { causes?: StatusCause[] };
  code?: number;
}

const NON_ZERO_EXIT_CODE_REASON = 'NonZeroExitCode';
const EXIT_CODE_CAUSE = 'ExitCode';

export const successStatus = (): Status => ({ metadata: {}, status: 'Success' });

export function exitCodeStatus(cmd: string[], code: number): Status {
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: error executing command ${JSON.stringify(cmd)}, exit code ${code}`,
    reason: NON_ZERO_EXIT_CODE_REASON,
    details: { causes: [{ reason: EXIT_CODE_CAUSE, message: String(code) }] },
  };
}

export function internalErrorStatus(message: string): Status {
  return {
    metadata: {},
    status: 'Failure',
    message: `Internal error occurred: ${message}`,
    reason: 'InternalError',
    details: { causes: [{ message }] },
    code: 500,
  };
}

/** The exit code a Status means: 0 for Success, the ExitCode cause for NonZeroExitCode, undefined otherwise. */
export function exitCodeOf(s: Status): number | undefined {
  if (s.status === 'Success') return 0;
  if (s.reason !== NON_ZERO_EXIT_CODE_REASON) return undefined;
  const cause = s.details?.causes?.find((c) => c.reason === EXIT_CODE_CAUSE);
  const n = Number(cause?.message);
  return Number.isInteger(n) ? n : undefined;
}
