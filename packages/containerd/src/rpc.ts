import type { Metadata, sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js';
import { namespaceOf } from '@gantry/api';
import { invalidArgument, toServiceError } from './errors';
import type { Logger } from '@gantry/linux';

const NAMESPACE_RE = /^[A-Za-z0-9]([A-Za-z0-9_.-]{0,74}[A-Za-z0-9])?$/;

/** The namespace of a call (header `containerd-namespace`); a call without one is refused, as containerd does. */
export function requireNamespace(md: Metadata): string {
  const ns = namespaceOf(md);
  if (!ns) throw invalidArgument('namespace is required: set the "containerd-namespace" header');
  validateNamespaceName(ns);
  return ns;
}

export function validateNamespaceName(ns: string): void {
  if (!NAMESPACE_RE.test(ns)) throw invalidArgument(`namespace ${JSON.stringify(ns)} is invalid: letters, digits, "_", "-", "." (max 76)`);
}

/** Turn a (possibly async) handler into grpc-js's callback form, with errors mapped and logged. */
export function unary<Req, Res>(log: Logger, method: string, fn: (req: Req, md: Metadata) => Res | Promise<Res>) {
  return (call: ServerUnaryCall<Req, Res>, cb: sendUnaryData<Res>) => {
    Promise.resolve()
      .then(() => fn(call.request, call.metadata))
      .then(
        (res) => cb(null, res),
        (e: unknown) => {
          const err = toServiceError(e);
          log.debug('request failed', { method, code: err.code, error: err.details });
          cb(err);
        },
      );
  };
}
