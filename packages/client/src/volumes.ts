/** `/volumes/…`. */
import type { Volume, VolumeCreateRequest, VolumeListResponse, VolumePruneResponse } from '@gantry/engine-api';
import { seg, type CallOptions, type Core, type Filters } from './core';

export class Volumes {
  constructor(private readonly core: Core) {}

  list(o: CallOptions & { filters?: Filters } = {}): Promise<VolumeListResponse> {
    return this.core.json('GET', '/volumes', { query: { filters: o.filters }, signal: o.signal });
  }

  inspect(name: string, o: CallOptions = {}): Promise<Volume> {
    return this.core.json('GET', `/volumes/${seg(name)}`, { signal: o.signal });
  }

  create(req: VolumeCreateRequest = {}, o: CallOptions = {}): Promise<Volume> {
    return this.core.json('POST', '/volumes/create', { json: req, signal: o.signal });
  }

  async remove(name: string, o: CallOptions & { force?: boolean } = {}): Promise<void> {
    await this.core.empty('DELETE', `/volumes/${seg(name)}`, { query: { force: o.force }, signal: o.signal });
  }

  prune(o: CallOptions & { filters?: Filters } = {}): Promise<VolumePruneResponse> {
    return this.core.json('POST', '/volumes/prune', { query: { filters: o.filters }, signal: o.signal });
  }
}
