/** `/networks/…`. */
import type {
  Network,
  NetworkConnectRequest,
  NetworkCreateRequest,
  NetworkCreateResponse,
  NetworkDisconnectRequest,
  NetworkPruneResponse,
} from '@gantry/engine-api';
import { seg, type CallOptions, type Core, type Filters } from './core';

export class Networks {
  constructor(private readonly core: Core) {}

  list(o: CallOptions & { filters?: Filters } = {}): Promise<Network[]> {
    return this.core.json('GET', '/networks', { query: { filters: o.filters }, signal: o.signal });
  }

  inspect(id: string, o: CallOptions = {}): Promise<Network> {
    return this.core.json('GET', `/networks/${seg(id)}`, { signal: o.signal });
  }

  create(req: NetworkCreateRequest, o: CallOptions = {}): Promise<NetworkCreateResponse> {
    return this.core.json('POST', '/networks/create', { json: req, signal: o.signal });
  }

  async remove(id: string, o: CallOptions = {}): Promise<void> {
    await this.core.empty('DELETE', `/networks/${seg(id)}`, { signal: o.signal });
  }

  async connect(id: string, req: NetworkConnectRequest, o: CallOptions = {}): Promise<void> {
    await this.core.empty('POST', `/networks/${seg(id)}/connect`, { json: req, signal: o.signal });
  }

  async disconnect(id: string, req: NetworkDisconnectRequest, o: CallOptions = {}): Promise<void> {
    await this.core.empty('POST', `/networks/${seg(id)}/disconnect`, { json: req, signal: o.signal });
  }

  prune(o: CallOptions & { filters?: Filters } = {}): Promise<NetworkPruneResponse> {
    return this.core.json('POST', '/networks/prune', { query: { filters: o.filters }, signal: o.signal });
  }
}
