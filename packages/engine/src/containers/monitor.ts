import { events, unpackAny } from '@gantry/api';
import type { Logger } from '@gantry/linux';

/** What gantryd needs of a server-streaming Events.Subscribe call (grpc-js' ClientReadableStream fits). */
export interface EventStream {
  on(event: 'metadata', fn: () => void): unknown;
  on(event: 'data', fn: (e: events.Envelope) => void): unknown;
  on(event: 'error', fn: (e: Error) => void): unknown;
  on(event: 'end', fn: () => void): unknown;
  cancel(): void;
}

export interface TaskExitEvent {
  containerId: string;
  /** The container id for its init process, the exec id for an exec. */
  id: string;
  pid: number;
  exitStatus: number;
  exitedAt: Date;
}

export interface MonitorHandlers {
  exit(e: TaskExitEvent): Promise<void>;
  oom(containerId: string): Promise<void>;
  /**
   * The subscription is live (headers received). `connection` counts from 1: after the first, the
   * stream had broken and events may have been missed, so the state must be reconciled.
   */
  live(connection: number): Promise<void>;
}

export interface MonitorOptions {
  minDelayMs?: number;
  maxDelayMs?: number;
}

function toDate(t: { seconds: bigint | number | string; nanos: number } | undefined): Date {
  if (!t) return new Date();
  return new Date(Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6));
}

/**
 * gantryd's half of moby's daemon/monitor.go: one Events.Subscribe stream (this namespace's task
 * exits and OOMs), re-subscribed with back-off when it breaks (gantry-containerd restarted).
 * Events of one container are handled one after another, in stream order, so an OOM is recorded
 * before the exit that follows it; different containers do not wait for each other.
 */
export class EventMonitor {
  private stream: EventStream | undefined;
  private closed = false;
  private connections = 0;
  private retry: NodeJS.Timeout | undefined;
  private readonly queues = new Map<string, Promise<void>>();
  private firstLive!: () => void;
  /** Resolves once the first subscription is live. */
  readonly ready = new Promise<void>((r) => (this.firstLive = r));

  constructor(
    private readonly subscribe: (filters: string[]) => EventStream,
    private readonly namespace: string,
    private readonly handlers: MonitorHandlers,
    private readonly log: Logger,
    private readonly opts: MonitorOptions = {},
  ) {}

  start(): void {
    this.connect(this.opts.minDelayMs ?? 100);
  }

  private connect(delay: number): void {
    if (this.closed) return;
    const filters = [`namespace==${this.namespace},topic=="/tasks/exit"`, `namespace==${this.namespace},topic=="/tasks/oom"`];
    let stream: EventStream;
    try {
      stream = this.subscribe(filters);
    } catch (e) {
      this.log.warn('events subscribe failed', { error: String(e) });
      this.reconnect(delay);
      return;
    }
    this.stream = stream;
    let live = false;
    let broken = false;
    const onBreak = (why: string) => {
      if (broken || this.closed) return;
      broken = true;
      if (this.stream === stream) this.stream = undefined;
      this.log.warn('containerd event stream broken; re-subscribing', { reason: why });
      // a stream that was live starts the back-off over
      this.reconnect(live ? (this.opts.minDelayMs ?? 100) : delay);
    };
    stream.on('metadata', () => {
      if (live || broken) return;
      live = true;
      const n = ++this.connections;
      if (n === 1) this.firstLive();
      this.handlers.live(n).catch((e: unknown) => this.log.error('reconcile after subscribe failed', { error: String(e) }));
    });
    stream.on('data', (env) => this.dispatch(env));
    stream.on('error', (e) => onBreak(e.message));
    stream.on('end', () => onBreak('end of stream'));
  }

  private reconnect(delay: number): void {
    if (this.closed) return;
    const max = this.opts.maxDelayMs ?? 2000;
    this.retry = setTimeout(() => this.connect(Math.min(delay * 2, max)), delay);
    this.retry.unref();
  }

  private dispatch(env: events.Envelope): void {
    if (env.namespace !== this.namespace) return;
    if (env.topic === '/tasks/exit') {
      const t = unpackAny(env.event, 'containerd.events.TaskExit', events.TaskExit);
      if (!t) return;
      const e: TaskExitEvent = { containerId: t.containerId, id: t.id || t.containerId, pid: t.pid, exitStatus: t.exitStatus, exitedAt: toDate(t.exitedAt) };
      // an exec's exit does not wait behind its container's (which waits for the output to drain)
      this.enqueue(e.id === e.containerId ? e.containerId : `${e.containerId}/${e.id}`, () => this.handlers.exit(e));
    } else if (env.topic === '/tasks/oom') {
      const t = unpackAny(env.event, 'containerd.events.TaskOOM', events.TaskOOM);
      if (!t) return;
      this.enqueue(t.containerId, () => this.handlers.oom(t.containerId));
    }
  }

  private enqueue(id: string, fn: () => Promise<void>): void {
    const prev = this.queues.get(id) ?? Promise.resolve();
    const next = prev.then(fn).catch((e: unknown) => this.log.error('event handling failed', { id, error: String(e) }));
    this.queues.set(id, next);
    void next.then(() => {
      if (this.queues.get(id) === next) this.queues.delete(id);
    });
  }

  /** Resolves when every event received so far has been handled (for tests and shutdown). */
  async idle(): Promise<void> {
    while (this.queues.size) await Promise.all([...this.queues.values()]);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retry);
    this.stream?.cancel();
    this.stream = undefined;
  }
}
