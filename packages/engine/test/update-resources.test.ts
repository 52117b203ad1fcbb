/**
 * `docker update` and `docker create` turn the same HostConfig limits into the same cgroup
 * resources (both through spec.ts's cgroupResources): what an update sends the running task is
 * what a create of a container with those limits puts in its spec. Before, update rounded the
 * NanoCpus quota and left swap unset where create truncated and defaulted swap to 2 × Memory.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Logger } from '@gantry/linux';
import { KindError } from '@gantry/linux';
import type { Containerd } from '../src/containerd/client';
import type { HostConfig } from '@gantry/engine-api';
import { ContainerManager } from '../src/containers/manager';
import { initialState, setRunning, type ContainerRecord } from '../src/containers/record';
import { buildSpec } from '../src/containers/spec';
import { ContainerStore } from '../src/containers/store';
import { validateCreate } from '../src/containers/validate';
import type { EngineContext } from '../src/context';
import { EngineEvents } from '../src/events';
import { FakeContainerd } from './fake-containerd';

const MB = 1024 * 1024;
const ID = 'ab'.repeat(32);

/** The resources a create with these HostConfig fields puts in the spec (devices aside: update leaves them). */
function createdResources(fields: HostConfig): unknown {
  const v = validateCreate({ Image: 'busybox', HostConfig: fields }, null, { cpuCount: 4 });
  const spec = buildSpec({ id: ID, config: v.config, hostConfig: v.hostConfig, image: { config: { Cmd: ['sh'] } }, rootfsPath: 'rootfs' });
  const { devices: _devices, ...rest } = spec.linux!.resources!;
  return rest;
}

describe('update and create: the same resources for the same limits', () => {
  let dir: string;
  let cd: FakeContainerd;
  let store: ContainerStore;
  let mgr: ContainerManager;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gupdate-'));
    cd = new FakeContainerd();
    const ctx: EngineContext = {
      log: new Logger('error', {}, () => undefined),
      cd: cd as unknown as Containerd,
      events: new EngineEvents(),
      dataRoot: path.join(dir, 'data'),
      started: new Date(),
    };
    store = new ContainerStore(ctx.dataRoot);
    mgr = new ContainerManager(ctx, store);
  });

  afterEach(() => {
    mgr.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** A running container created without limits (its HostConfig as validateCreate leaves it). */
  function running(hostConfig: HostConfig = validateCreate({ Image: 'busybox' }).hostConfig): ContainerRecord {
    const id = store.newId();
    const rec: ContainerRecord = {
      Id: id,
      Name: `/u${id.slice(0, 6)}`,
      Created: new Date().toISOString(),
      Path: 'sh',
      Args: [],
      Image: 'busybox',
      ImageID: 'sha256:0',
      Config: { Cmd: ['sh'], Image: 'busybox' },
      HostConfig: hostConfig as Record<string, unknown>,
      State: initialState(),
      RestartCount: 0,
      LogPath: path.join(dir, 'data', 'containers', id, `${id}-json.log`),
      ManuallyStopped: false,
      SnapshotKey: id,
    };
    setRunning(rec, 4242);
    store.save(rec);
    return rec;
  }

  /** The resources the update sent the task. */
  function sent(): unknown {
    const calls = cd.calls.filter((c) => c.method === 'Tasks.update');
    expect(calls).toHaveLength(1);
    const resources = calls[0]!.req.resources as { typeUrl: string; value: Buffer };
    expect(resources.typeUrl).toBe('types.containerd.io/opencontainers/runtime-spec/1/LinuxResources');
    return JSON.parse(Buffer.from(resources.value).toString('utf8'));
  }

  test.each<[string, HostConfig]>([
    ['Memory alone: swap 2 × Memory', { Memory: 64 * MB }],
    ['Memory + MemorySwap', { Memory: 64 * MB, MemorySwap: 256 * MB }],
    ['Memory + unlimited swap', { Memory: 64 * MB, MemorySwap: -1 }],
    ['MemoryReservation', { MemoryReservation: 32 * MB }],
    // 1.23456789 CPUs: a quota of 123456.789 µs, truncated (123456) by both
    ['NanoCpus with a fraction of a µs', { NanoCpus: 1_234_567_890 }],
    ['CpuShares', { CpuShares: 512 }],
    ['CpuQuota + CpuPeriod', { CpuQuota: 50000, CpuPeriod: 200000 }],
    ['cpuset', { CpusetCpus: '0-1', CpusetMems: '0' }],
    ['PidsLimit', { PidsLimit: 100 }],
    ['everything at once', { Memory: 64 * MB, MemorySwap: 128 * MB, NanoCpus: 500_000_000, CpuShares: 256, PidsLimit: 50, BlkioWeight: 300 }],
  ])('%s', async (_name, fields) => {
    const rec = running();
    await mgr.update(rec.Id, fields);
    expect(sent()).toEqual(createdResources(fields));
    // and the record holds what a create would have recorded for those fields
    const created = validateCreate({ Image: 'busybox', HostConfig: fields }, null, { cpuCount: 4 }).hostConfig as Record<string, unknown>;
    for (const k of Object.keys(fields)) expect([k, store.get(rec.Id).HostConfig[k]]).toEqual([k, created[k]]);
  });

  it('a stopped container: the record changes, nothing is sent', async () => {
    const rec = running();
    rec.State = initialState();
    store.save(rec);
    await mgr.update(rec.Id, { Memory: 64 * MB });
    expect(cd.methods()).not.toContain('Tasks.update');
    expect(store.get(rec.Id).HostConfig).toMatchObject({ Memory: 64 * MB, MemorySwap: 128 * MB });
  });

  it.each<[string, HostConfig, HostConfig, string]>([
    ['NanoCpus over a CFS quota', { CpuQuota: 50000 }, { NanoCpus: 1e9 }, 'Conflicting options: Nano CPUs and CPU Quota cannot both be set'],
    ['CpuPeriod over NanoCpus', { NanoCpus: 1e9 }, { CpuPeriod: 100000 }, 'Conflicting options: Nano CPUs and CPU Period cannot both be set'],
    ['swap below memory', {}, { Memory: 64 * MB, MemorySwap: 32 * MB }, 'Minimum memoryswap limit should be larger than memory limit, see usage'],
  ])('refused as a create of the result would be: %s', async (_name, before, body, message) => {
    const rec = running({ ...validateCreate({ Image: 'busybox' }).hostConfig, ...before });
    const err = await mgr.update(rec.Id, body).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(KindError);
    expect((err as KindError).kind).toBe('invalid-argument');
    expect((err as Error).message).toBe(message);
    expect(cd.methods()).not.toContain('Tasks.update');
    expect(store.get(rec.Id).HostConfig).toEqual({ ...validateCreate({ Image: 'busybox' }).hostConfig, ...before });
  });
});
