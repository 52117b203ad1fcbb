import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Server, ServerCredentials, status, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { mergeTraceDir, setTraceDir, type TraceEvent } from '@gantry/linux';
import { callMetadata, clientOn, events, shim, tracedService, unaryCall, unixChannel } from '../src';

let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gantry-api-trace-'));
});

afterEach(() => {
  setTraceDir(undefined);
  fs.rmSync(dir, { recursive: true, force: true });
});

type Create = (call: ServerUnaryCall<shim.CreateTaskRequest, shim.CreateTaskResponse>, cb: sendUnaryData<shim.CreateTaskResponse>) => void;

/** A shim Task server with only `create`, its client, and a way to stop both. */
async function serve(create: Create) {
  const sock = path.join(dir, 's.sock');
  const server = new Server();
  server.addService(shim.TaskService, tracedService('shim', shim.TaskService, { create }));
  await new Promise<void>((res, rej) => server.bindAsync(`unix://${sock}`, ServerCredentials.createInsecure(), (e) => (e ? rej(e) : res())));
  const client = clientOn(shim.TaskClient, unixChannel(sock));
  const call = (id: string) => unaryCall(client, client.create, shim.CreateTaskRequest.fromPartial({ id }), callMetadata(), 5000);
  return {
    call,
    stop: () => {
      client.close();
      server.forceShutdown();
    },
  };
}

const spans = () => mergeTraceDir(dir).traceEvents.filter((e) => e.ph === 'X');
const named = (evs: TraceEvent[], n: string) => evs.filter((e) => e.name === n);

describe('tracedService and unaryCall', () => {
  it('give a call a span at both ends, the server’s within the client’s', async () => {
    setTraceDir(dir);
    const s = await serve((call, cb) => setTimeout(() => cb(null, shim.CreateTaskResponse.fromPartial({ pid: call.request.id.length })), 20));
    try {
      await expect(s.call('abcd')).resolves.toMatchObject({ pid: 4 });
    } finally {
      s.stop();
    }
    const evs = spans();
    const [client] = named(evs, 'rpc.task.create');
    const [server] = named(evs, 'shim.create');
    expect(client).toBeDefined();
    expect(server).toBeDefined();
    expect(server!.dur!).toBeGreaterThanOrEqual(15_000);
    expect(server!.ts!).toBeGreaterThanOrEqual(client!.ts!);
    expect(server!.ts! + server!.dur!).toBeLessThanOrEqual(client!.ts! + client!.dur!);
  });

  it('record a failed call and keep its status', async () => {
    setTraceDir(dir);
    const s = await serve((_call, cb) => cb({ code: status.NOT_FOUND, details: 'no such task' }));
    try {
      await expect(s.call('x')).rejects.toMatchObject({ code: status.NOT_FOUND });
    } finally {
      s.stop();
    }
    expect(named(spans(), 'rpc.task.create')[0]!.args).toEqual({ error: expect.stringContaining('no such task') });
    expect(named(spans(), 'shim.create')).toHaveLength(1);
  });

  it('leave streaming handlers alone, and the whole implementation when tracing is off', () => {
    const subscribe = () => undefined;
    const impl = { subscribe, publish: () => undefined, forward: () => undefined };
    setTraceDir(undefined);
    expect(tracedService('containerd.events', events.EventsService, impl)).toBe(impl);
    setTraceDir(dir);
    const traced = tracedService('containerd.events', events.EventsService, impl);
    expect(traced.subscribe).toBe(subscribe);
    expect(traced.publish).not.toBe(impl.publish);
  });

  it('throw to grpc-js what a handler throws at once, as untraced', async () => {
    setTraceDir(dir);
    const create: Create = () => {
      throw new Error('handler bug');
    };
    const traced = tracedService('shim', shim.TaskService, { create });
    expect(() => traced.create({} as ServerUnaryCall<shim.CreateTaskRequest, shim.CreateTaskResponse>, () => undefined)).toThrow('handler bug');
    await new Promise((r) => setImmediate(r));
    expect(named(spans(), 'shim.create')[0]!.args).toEqual({ error: 'handler bug' });
  });
});
