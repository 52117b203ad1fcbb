/** `/_ping`, `/version`, `/info`, `/system/df`, `/events`, `/auth`. */
import type { AuthConfig, AuthResponse, EventMessage, SystemDataUsage, SystemInfo, SystemVersion } from '@gantry/engine-api';
import type { CallOptions, Core, Filters } from './core';
import { jsonLines } from './json-lines';

export interface EventsOptions extends CallOptions {
  /** Unix seconds or an RFC 3339 time: replay from then. */
  since?: number | string;
  /** Stop at this time (the stream ends there). */
  until?: number | string;
  filters?: Filters;
}

export class System {
  constructor(private readonly core: Core) {}

  /** `GET /_ping`: the daemon's API version and OS (throws a ConnectionError when it is not there). */
  ping(o: CallOptions = {}): Promise<{ apiVersion?: string; osType?: string; builderVersion?: string }> {
    return this.core.ping(o.signal);
  }

  version(o: CallOptions = {}): Promise<SystemVersion> {
    return this.core.json('GET', '/version', { signal: o.signal });
  }

  info(o: CallOptions = {}): Promise<SystemInfo> {
    return this.core.json('GET', '/info', { signal: o.signal });
  }

  df(o: CallOptions = {}): Promise<SystemDataUsage> {
    return this.core.json('GET', '/system/df', { signal: o.signal, stream: true });
  }

  /** Events as they happen (and from `since`), until `until` or `signal` aborts. */
  async *events(o: EventsOptions = {}): AsyncGenerator<EventMessage> {
    const res = await this.core.call('GET', '/events', { query: { since: o.since, until: o.until, filters: o.filters }, signal: o.signal, stream: true });
    try {
      yield* jsonLines<EventMessage>(res);
    } finally {
      res.destroy(); // a consumer that stops early ends the subscription
    }
  }

  /** Check credentials with a registry (`docker login`). */
  auth(config: AuthConfig, o: CallOptions = {}): Promise<AuthResponse> {
    return this.core.json('POST', '/auth', { json: config, signal: o.signal, stream: true });
  }
}
