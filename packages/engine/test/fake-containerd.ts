/**
 * gantry-containerd as the engine calls it (`cd.call(client, method, req)`), for unit tests of the
 * engine's container logic without daemons: each method answers from a handler the test sets
 * (an empty reply otherwise), and every call is recorded.
 */
import { status as Code } from '@grpc/grpc-js';

/** A gRPC status as gantry-containerd's client sees it. */
export const grpcError = (code: Code, details: string) => Object.assign(new Error(`${code} ${Code[code]}: ${details}`), { code, details });

export type Handler = (req: Record<string, unknown>) => Promise<unknown>;

export class FakeContainerd {
  readonly calls: { method: string; req: Record<string, unknown> }[] = [];
  readonly handlers = new Map<string, Handler>();
  readonly tasks: Record<string, Handler>;
  readonly snapshots: Record<string, Handler>;
  readonly containers: Record<string, Handler>;

  constructor() {
    const service = (name: string, methods: string[]) =>
      Object.fromEntries(
        methods.map((m) => {
          const full = `${name}.${m}`;
          const fn: Handler = (req) => {
            this.calls.push({ method: full, req });
            const h = this.handlers.get(full);
            return h ? h(req) : Promise.resolve({});
          };
          return [m, fn];
        }),
      );
    this.tasks = service('Tasks', ['create', 'start', 'delete', 'exec', 'deleteProcess', 'wait', 'kill', 'closeIo', 'list', 'get', 'resume', 'update']);
    this.snapshots = service('Snapshots', ['mounts', 'remove']);
    this.containers = service('Containers', ['get', 'delete']);
  }

  call(_client: object, method: Handler, req: Record<string, unknown>): Promise<unknown> {
    return method(req);
  }

  /** As the real client's: sent again (here at once) while it fails with UNAVAILABLE, up to 5 times. */
  async callIdempotent(_client: object, method: Handler, req: Record<string, unknown>): Promise<unknown> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await method(req);
      } catch (e) {
        if ((e as { code?: number }).code !== Code.UNAVAILABLE || attempt >= 5) throw e;
      }
    }
  }

  close(): void {}

  methods(): string[] {
    return this.calls.map((c) => c.method);
  }
}
