/**
 * Typed failures of registry operations. `kind` says how an engine should answer (Docker maps
 * unauthorized/denied to 401/403-ish messages, unknown manifests to 404, the rest to 500).
 */
export type RegistryErrorKind = 'auth' | 'not-found' | 'invalid' | 'digest' | 'platform' | 'transport' | 'protocol' | 'cancelled';

export class RegistryError extends Error {
  constructor(
    readonly kind: RegistryErrorKind,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'RegistryError';
  }
}

/** One entry of a registry's `{"errors":[...]}` body. */
interface RegistryErrorBody {
  code?: string;
  message?: string;
  detail?: unknown;
}

/** "manifest unknown: manifest unknown", as Docker prints a registry's error list. */
export function describeErrors(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { errors?: RegistryErrorBody[] };
    if (!Array.isArray(parsed.errors) || parsed.errors.length === 0) return undefined;
    return parsed.errors.map((e) => `${(e.code ?? 'unknown').toLowerCase().replace(/_/g, ' ')}: ${e.message ?? ''}`).join(', ');
  } catch {
    return undefined;
  }
}

/** Whether a failure is worth another attempt (network hiccups, 5xx, 429). */
export function isTransient(e: unknown): boolean {
  if (e instanceof RegistryError) return e.kind === 'transport' || (e.status !== undefined && (e.status >= 500 || e.status === 429));
  const code = (e as { code?: unknown }).code;
  return (
    typeof code === 'string' && ['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'ERR_STREAM_PREMATURE_CLOSE'].includes(code)
  );
}
