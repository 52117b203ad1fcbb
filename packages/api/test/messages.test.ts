import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, Server, ServerCredentials } from '@grpc/grpc-js';
import {
  cgroups,
  content,
  events,
  namespaceMetadata,
  namespaceOf,
  packAny,
  shim,
  tasks,
  timestampFromNanos,
  timestampToNanos,
  types,
  unpackAny,
  version,
} from '../src';

describe('generated messages', () => {
  test('int64 sizes and offsets keep full 64-bit precision (bigint)', () => {
    const max = 2n ** 63n - 1n;
    const info = content.Info.decode(content.Info.encode({ digest: 'sha256:00', size: max, labels: {}, createdAt: timestampFromNanos(1n) }).finish());
    expect(info.size).toBe(max);
    const usage = content.ReadContentRequest.fromPartial({ digest: 'd', offset: '9007199254740993', size: 0 });
    expect(content.ReadContentRequest.decode(content.ReadContentRequest.encode(usage).finish()).offset).toBe(9007199254740993n);
  });

  test('timestamps keep nanoseconds', () => {
    const ns = 1_700_000_000_123_456_789n;
    const exit = tasks.WaitResponse.decode(tasks.WaitResponse.encode({ exitStatus: 137, exitedAt: timestampFromNanos(ns) }).finish());
    expect(exit.exitStatus).toBe(137);
    expect(timestampToNanos(exit.exitedAt!)).toBe(ns);
    expect(timestampFromNanos(-1n)).toEqual({ seconds: -1n, nanos: 999_999_999 });
  });

  test('field numbers: TaskExit encodes as containerd does (id=2, pid=3, exit_status=4)', () => {
    const bytes = events.TaskExit.encode({ containerId: 'c', id: 'e', pid: 5, exitStatus: 7 }).finish();
    expect(Buffer.from(bytes).toString('hex')).toBe('0a0163' + '120165' + '1805' + '2007');
  });

  test('event payloads pack into an Any and back', () => {
    const any = packAny('containerd.events.TaskExit', events.TaskExit, {
      containerId: 'c1',
      id: 'c1',
      pid: 42,
      exitStatus: 0,
    });
    expect(any.typeUrl).toBe('containerd.events.TaskExit');
    expect(unpackAny(any, 'containerd.events.TaskExit', events.TaskExit)?.pid).toBe(42);
    expect(unpackAny(any, 'containerd.events.TaskOOM', events.TaskOOM)).toBeUndefined();
  });

  test('cgroup metrics: field numbers as containerd/cgroups (v1 pids=2 memory=4 usage=33; v2 pids=1 memory=4 usage=32)', () => {
    const v1 = cgroups.v1.Metrics.fromPartial({ pids: { current: 3n }, memory: { usage: { usage: 5n } } });
    expect(Buffer.from(cgroups.v1.Metrics.encode(v1).finish()).toString('hex')).toBe('1202' + '0803' + '2205' + '8a0202' + '1005');
    const v2 = cgroups.v2.Metrics.fromPartial({ pids: { current: 3n }, memory: { usage: 5n } });
    expect(Buffer.from(cgroups.v2.Metrics.encode(v2).finish()).toString('hex')).toBe('0a02' + '0803' + '2203' + '800205');
    const any = packAny(cgroups.V1_METRICS_TYPE, cgroups.v1.Metrics, v1);
    expect(any.typeUrl).toBe('io.containerd.cgroups.v1.Metrics');
    expect(unpackAny(any, cgroups.V1_METRICS_TYPE, cgroups.v1.Metrics)?.memory?.usage?.usage).toBe(5n);
    expect(cgroups.V2_METRICS_TYPE).toBe('io.containerd.cgroups.v2.Metrics');
  });

  test('enums and the shim method table', () => {
    expect(types.Status.PAUSING).toBe(5);
    expect(shim.TaskService.shutdown.path).toBe('/containerd.task.v2.Task/Shutdown');
    expect(Object.keys(shim.TaskService)).toHaveLength(17);
  });
});

describe('generated grpc-js client and server', () => {
  test('a VersionClient talks to a VersionService server on a unix socket, with namespace metadata', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gantry-api-'));
    const server = new Server();
    let seen: string | undefined;
    server.addService(version.VersionService, {
      version: (call, cb) => {
        seen = namespaceOf(call.metadata);
        cb(null, { version: '1.2.3', revision: 'r' });
      },
    } satisfies version.VersionServer);
    const address = `unix://${join(dir, 'api.sock')}`;
    await new Promise<void>((res, rej) => server.bindAsync(address, ServerCredentials.createInsecure(), (e) => (e ? rej(e) : res())));
    const client = new version.VersionClient(address, credentials.createInsecure());
    try {
      const resp = await new Promise<version.VersionResponse>((res, rej) =>
        client.version({}, namespaceMetadata('gantry'), (err, r) => (err ? rej(err) : res(r))),
      );
      expect(resp).toEqual({ version: '1.2.3', revision: 'r' });
      expect(seen).toBe('gantry');
    } finally {
      client.close();
      await new Promise<void>((res) => server.tryShutdown(() => res()));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
