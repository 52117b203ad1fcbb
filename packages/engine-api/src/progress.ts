/**
 * The JSON messages of streamed progress (pull via `POST /images/create`, push, load, import, build):
 * moby's jsonmessage.JSONMessage, one object per line.
 */

export interface ProgressDetail {
  current?: number;
  total?: number;
}

export interface ErrorDetail {
  code?: number;
  message: string;
}

export interface JsonMessage {
  /** Layer or step id of a progress line. */
  id?: string;
  status?: string;
  progressDetail?: ProgressDetail;
  /** Deprecated pre-rendered progress bar. */
  progress?: string;
  /** Build output (`POST /build`). */
  stream?: string;
  /** Deprecated: errorDetail.message. */
  error?: string;
  errorDetail?: ErrorDetail;
  /** Build results, e.g. `{"ID": "sha256:…"}`. */
  aux?: Record<string, unknown>;
  time?: number;
  timeNano?: number;
  from?: string;
}

/** The error a message carries, if any: errorDetail's message first (as the docker CLI), else `error`. */
export function messageError(m: JsonMessage): ErrorDetail | undefined {
  if (m.errorDetail !== undefined && m.errorDetail.message !== '') return m.errorDetail;
  if (m.error !== undefined && m.error !== '') return { message: m.error };
  return undefined;
}
