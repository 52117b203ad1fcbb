/** The lease a call runs under: containerd's clients send its id in the `containerd-lease` header. */
import type { Metadata } from '@grpc/grpc-js';

const LEASE_HEADER = 'containerd-lease';

/** The lease id of an incoming call, or undefined when it has none (or an empty one). */
export function leaseOf(md: Metadata): string | undefined {
  const v = md.get(LEASE_HEADER)[0];
  if (v === undefined) return undefined;
  const id = typeof v === 'string' ? v : v.toString('utf8');
  return id === '' ? undefined : id;
}
