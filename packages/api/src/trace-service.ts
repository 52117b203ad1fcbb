import type { handleUnaryCall, sendUnaryData, ServerUnaryCall, ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';
import { traced, traceEnabled } from '@gantry/linux';

/**
 * A service implementation whose unary handlers each run in a span named `<prefix>.<method>`
 * (e.g. `containerd.tasks.create`) that ends when the handler answers; streaming handlers are left
 * alone (they last as long as their client). With tracing off it returns `impl` itself: no cost.
 */
export function tracedService<I extends object>(prefix: string, definition: ServiceDefinition, impl: I): I {
  if (!traceEnabled()) return impl;
  const handlers = impl as unknown as UntypedServiceImplementation;
  const out: UntypedServiceImplementation = { ...handlers };
  for (const [name, method] of Object.entries(definition)) {
    const h = handlers[name];
    if (method.requestStream || method.responseStream || typeof h !== 'function') continue;
    const unary = h as handleUnaryCall<unknown, unknown>;
    const wrapped: handleUnaryCall<unknown, unknown> = (call: ServerUnaryCall<unknown, unknown>, cb: sendUnaryData<unknown>) => {
      // a handler that throws at once throws to grpc-js as it would untraced
      let thrown: { e: unknown } | undefined;
      traced(
        `${prefix}.${name}`,
        () =>
          new Promise<void>((done, fail) => {
            try {
              unary(call, (err, value) => (cb(err, value), done()));
            } catch (e) {
              thrown = { e };
              fail(e instanceof Error ? e : new Error(String(e)));
            }
          }),
      ).catch(() => undefined); // recorded in the span; thrown below
      if (thrown) throw thrown.e;
    };
    out[name] = wrapped;
  }
  return out as unknown as I;
}
