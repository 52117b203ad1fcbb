/** `docker update`: new resource limits (and restart policy) in the record, applied to a running task. */
import { tasks as tpb } from '@gantry/api';
import { errdefs } from '@gantry/linux';
import { decode } from './decode';
import { MIN_MEMORY, type HostConfig } from '@gantry/engine-api';
import type { ContainerManager } from './manager';
import { cgroupResources } from './spec';
import { hostDeviceLookup } from './devices';
import { defaultMemorySwap, UPDATE_BODY } from './validate';

const RESOURCES_TYPE = 'types.containerd.io/opencontainers/runtime-spec/1/LinuxResources';

/**
 * The container's HostConfig after an update request `raw` (dockerd's UpdateConfig): zero and
 * empty fields leave the current value, as dockerd's update does. Throws invalid-argument (400).
 */
function updatedHostConfig(current: HostConfig, raw: unknown): HostConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw errdefs.invalidArgument('json: cannot unmarshal into Go value of type container.UpdateConfig');
  // typed like dockerd's UpdateConfig; fields it does not know are dropped, as dockerd does
  const body = decode(raw, UPDATE_BODY, 'UpdateConfig') as Record<string, unknown>;
  const host = { ...current } as HostConfig & Record<string, unknown>;
  for (const [k, v] of Object.entries(body)) if (v !== 0 && v !== null && v !== '' && !(Array.isArray(v) && v.length === 0)) host[k] = v;
  const mem = Number(host.Memory ?? 0);
  if (body.Memory !== undefined && mem > 0 && mem < MIN_MEMORY) throw errdefs.invalidArgument('Minimum memory limit allowed is 6MB');
  let swap = Number(host.MemorySwap ?? 0);
  if (body.Memory && !body.MemorySwap && swap > 0 && swap < mem) swap = mem * 2;
  if (swap > 0 && mem > 0 && swap < mem) throw errdefs.invalidArgument('Minimum memoryswap limit should be larger than memory limit, see usage');
  host.MemorySwap = swap;
  // as a create: a memory limit without a swap limit gets twice as much
  defaultMemorySwap(host);
  // NanoCpus and a CFS quota or period together would mean two quotas (create refuses it too)
  if ((host.NanoCpus ?? 0) > 0 && (host.CpuPeriod ?? 0) > 0) throw errdefs.invalidArgument('Conflicting options: Nano CPUs and CPU Period cannot both be set');
  if ((host.NanoCpus ?? 0) > 0 && (host.CpuQuota ?? 0) > 0) throw errdefs.invalidArgument('Conflicting options: Nano CPUs and CPU Quota cannot both be set');
  return host;
}

export async function update(m: ContainerManager, ref: string, raw: unknown): Promise<{ Warnings: string[] }> {
  const rec = m.store.get(ref);
  const host = updatedHostConfig(rec.HostConfig as HostConfig, raw);
  if (rec.State.Running) {
    // the same limits a create of this HostConfig would have put in the spec (containers/spec.ts)
    const resources = cgroupResources(host, 2, hostDeviceLookup);
    await m.cd
      .call(
        m.cd.tasks,
        m.cd.tasks.update,
        tpb.UpdateTaskRequest.fromPartial({
          containerId: rec.Id,
          resources: { typeUrl: RESOURCES_TYPE, value: Buffer.from(JSON.stringify(resources)) },
        }),
      )
      .catch((e: unknown) => {
        throw errdefs.fromGrpc(e);
      });
  }
  rec.HostConfig = host as Record<string, unknown>;
  m.store.save(rec);
  m.ctx.events.emit('container', 'update', rec.Id, { name: rec.Name.slice(1) });
  return { Warnings: [] };
}
