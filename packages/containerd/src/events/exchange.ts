import { EventEmitter } from 'node:events';
import type { protobuf } from '@gantry/api';
import { compileFilters, type Adaptor } from './filters';

/** One event as containerd's Envelope carries it. */
export interface EventEnvelope {
  timestamp: Date;
  namespace: string;
  topic: string;
  event: protobuf.Any;
}

/** Topics must look like paths: "/tasks/exit", no empty parts. */
export function validTopic(topic: string): boolean {
  return /^(\/[A-Za-z0-9_.-]+)+$/.test(topic);
}

/**
 * The daemon's event bus: every published event goes to every live subscriber whose filters
 * match it (filters see `topic`, `namespace` and `event.<field>` of the decoded payload).
 */
export class Exchange {
  private readonly emitter = new EventEmitter();

  constructor(private readonly decode: (any: protobuf.Any) => Record<string, unknown> | undefined = () => undefined) {
    this.emitter.setMaxListeners(0);
  }

  publish(e: EventEnvelope): void {
    this.emitter.emit('event', e);
  }

  /** Calls `fn` for each matching event until the returned function is called. */
  subscribe(filters: readonly string[], fn: (e: EventEnvelope) => void): () => void {
    const match = compileFilters(filters);
    const listener = (e: EventEnvelope) => {
      const adaptor: Adaptor = (path) => {
        if (path.length === 1 && path[0] === 'topic') return e.topic;
        if (path.length === 1 && path[0] === 'namespace') return e.namespace;
        if (path[0] === 'event') {
          let cur: unknown = this.decode(e.event);
          for (const p of path.slice(1)) {
            if (cur === null || typeof cur !== 'object') return undefined;
            const obj = cur as Record<string, unknown>;
            // containerd's field paths use the proto (snake_case) names
            const camel = p.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
            cur = obj[p] ?? obj[camel];
          }
          // a scalar field only: a path that ends at a message matches nothing
          return typeof cur === 'string' || typeof cur === 'number' || typeof cur === 'boolean' || typeof cur === 'bigint' ? String(cur) : undefined;
        }
        return undefined;
      };
      if (match(adaptor)) fn(e);
    };
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }
}
