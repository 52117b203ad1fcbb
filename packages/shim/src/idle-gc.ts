import type { UntypedServiceImplementation } from '@grpc/grpc-js';

/**
 * A shim is idle nearly all its life, and an idle Node process never collects: the garbage of its
 * last calls and the bytecode of code it ran once (the task's create and start) stay resident.
 * Once no call has come for `idleMs`, a few full collections: V8 frees bytecode that has not run
 * for some collections (--flush-bytecode, on by default) and releases the pages emptied; then
 * `trim` (malloc_trim: the collections' own malloc'd work lists are freed but glibc keeps the
 * pages, so collecting without trimming measured no smaller). Together ~2 MB less private memory
 * per idle shim (packages/shim/README.md). Needs `gc` (node --expose-gc); without it, nothing.
 */
export class IdleCollector {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly gc: (() => void) | undefined,
    private readonly trim: () => void,
    private readonly idleMs: number,
    /** enough collections for unused bytecode to age out (V8's --bytecode-old-age) */
    private readonly rounds = 8,
  ) {}

  /** Activity: collect `idleMs` after the last one. */
  poke(): void {
    if (!this.gc) return;
    if (this.timer) this.timer.refresh();
    else {
      this.timer = setTimeout(() => this.collect(), this.idleMs);
      this.timer.unref();
    }
  }

  private collect(): void {
    this.timer = undefined;
    for (let i = 0; i < this.rounds; i++) this.gc?.();
    this.trim();
  }
}

/** The handlers of `impl`, each poking `idle` when a call arrives. */
export function pokingService<I extends object>(idle: IdleCollector, impl: I): I {
  const handlers = impl as unknown as UntypedServiceImplementation;
  const out: UntypedServiceImplementation = {};
  for (const [name, h] of Object.entries(handlers)) {
    out[name] =
      typeof h === 'function'
        ? (((...args: unknown[]) => {
            idle.poke();
            return (h as (...a: unknown[]) => unknown)(...args);
          }) as UntypedServiceImplementation[string])
        : h;
  }
  return out as unknown as I;
}
