/**
 * A task or exec that gantry-containerd could not create or start reaches the API client as dockerd
 * answers it: the runtime's message at the end of `{"message": ...}` (after dockerd's own
 * "failed to create task for container: " for a create), the HTTP status and the exit code dockerd
 * records (127 for a program that is not there, 126 for one that cannot run, 128 otherwise). The
 * backend is a fake gantry-containerd whose Tasks calls fail as the real one's do.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { status as Code } from '@grpc/grpc-js';
import { Logger } from '@gantry/linux';
import type { Containerd } from '../src/containerd/client';
import { ExecManager } from '../src/containers/exec';
import { ContainerManager } from '../src/containers/manager';
import { initialState, type ContainerRecord } from '../src/containers/record';
import { startFailure, type StartFailure } from '../src/containers/start-error';
import { ContainerStore } from '../src/containers/store';
import type { EngineContext } from '../src/context';
import { EngineEvents } from '../src/events';
import { toHttpError } from '../src/http/errors';
import { Router } from '../src/http/router';
import { ApiServer } from '../src/http/server';
import { registerContainerRoutes } from '../src/routes/containers';
import { registerExecRoutes } from '../src/routes/exec';
import { frame, StdStream } from '../src/streams/stdcopy';
import { FakeContainerd, grpcError } from './fake-containerd';

describe('start and exec failures through the API (fake gantry-containerd)', () => {
  let dir: string;
  let sock: string;
  let server: ApiServer;
  let cd: FakeContainerd;
  let store: ContainerStore;
  let mgr: ContainerManager;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gstarterr-'));
    sock = path.join(dir, 'api.sock');
    cd = new FakeContainerd();
    const log = new Logger('error', {}, () => undefined); // the failures below are logged as errors: expected
    const ctx: EngineContext = { log, cd: cd as unknown as Containerd, events: new EngineEvents(), dataRoot: path.join(dir, 'data'), started: new Date() };
    store = new ContainerStore(ctx.dataRoot);
    mgr = new ContainerManager(ctx, store);
    const execs = new ExecManager(ctx, mgr);
    const router = new Router();
    registerContainerRoutes(router, ctx, mgr, (id) => execs.idsOf(id));
    registerExecRoutes(router, ctx, execs);
    server = new ApiServer(router, log);
    await server.listen(sock);
  });

  afterAll(async () => {
    mgr?.close();
    await server?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    cd.calls.length = 0;
    cd.handlers.clear();
    cd.handlers.set('Snapshots.mounts', async () => ({ mounts: [] }));
    cd.handlers.set('Tasks.delete', async () => {
      throw grpcError(Code.NOT_FOUND, 'task not found');
    });
  });

  function container(name: string, running = false): ContainerRecord {
    const id = store.newId();
    const rec: ContainerRecord = {
      Id: id,
      Name: `/${name}`,
      Created: new Date().toISOString(),
      Path: 'sh',
      Args: [],
      Image: 'busybox',
      ImageID: 'sha256:0',
      Config: { Cmd: ['sh'], Image: 'busybox', Tty: false },
      HostConfig: {},
      State: running ? { ...initialState(), Status: 'running', Running: true, Pid: 4242 } : initialState(),
      RestartCount: 0,
      LogPath: path.join(dir, 'data', 'containers', id, `${id}-json.log`),
      ManuallyStopped: false,
      SnapshotKey: id,
    };
    store.save(rec);
    return rec;
  }

  /** One request on its own connection; the whole answer (head and body or hijacked stream) as bytes. */
  function request(method: string, p: string, body?: unknown): Promise<{ status: number; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const conn = net.connect(sock);
      const chunks: Buffer[] = [];
      const data = body === undefined ? '' : JSON.stringify(body);
      conn.on('connect', () =>
        conn.write(
          `${method} ${p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(data)}\r\n\r\n${data}`,
        ),
      );
      conn.on('data', (c: Buffer) => chunks.push(c));
      conn.on('error', reject);
      conn.on('close', () => {
        const all = Buffer.concat(chunks);
        const head = all.indexOf('\r\n\r\n');
        const status = Number(/^HTTP\/1\.1 (\d+)/.exec(all.subarray(0, head).toString())?.[1] ?? 0);
        let rest = all.subarray(head + 4);
        // a JSON answer may come chunked
        if (/transfer-encoding: chunked/i.test(all.subarray(0, head).toString())) {
          const parts: Buffer[] = [];
          for (;;) {
            const nl = rest.indexOf('\r\n');
            const n = parseInt(rest.subarray(0, nl).toString(), 16);
            if (!n) break;
            parts.push(rest.subarray(nl + 2, nl + 2 + n));
            rest = rest.subarray(nl + 4 + n);
          }
          rest = Buffer.concat(parts);
        }
        resolve({ status, body: rest });
      });
    });
  }

  const message = (b: Buffer) => (JSON.parse(b.toString()) as { message: string }).message;

  it("a create the runtime refuses (caps): 500, dockerd's prefix then containerd's message whole, exit code 128, still created", async () => {
    const c = container('priv');
    const said = 'failed to create shim task: OCI runtime create failed: unable to apply caps: operation not permitted';
    cd.handlers.set('Tasks.create', async () => {
      throw grpcError(Code.UNKNOWN, said);
    });
    const r = await request('POST', `/v1.45/containers/${c.Id}/start`);
    expect(r.status).toBe(500);
    expect(message(r.body)).toBe(`failed to create task for container: ${said}`);
    const state = store.get(c.Id).State;
    expect(state).toMatchObject({ Status: 'created', Running: false, ExitCode: 128, Error: `failed to create task for container: ${said}` });
    // the half-made task is deleted, and Start was never tried (no "not in created state" to hide the cause)
    expect(cd.methods()).toEqual(['Tasks.delete', 'Snapshots.mounts', 'Tasks.create', 'Tasks.delete']);
  });

  it('a program that is not there: 400 and 127; one that cannot run: 400 and 126 (what the CLI turns into its exit code)', async () => {
    const missing = container('missing');
    cd.handlers.set('Tasks.create', async () => {
      throw grpcError(Code.UNKNOWN, 'failed to create shim task: OCI runtime create failed: exec: "nope": executable file not found in $PATH');
    });
    let r = await request('POST', `/v1.45/containers/${missing.Id}/start`);
    expect(r.status).toBe(400);
    expect(message(r.body)).toBe(
      'failed to create task for container: failed to create shim task: OCI runtime create failed: exec: "nope": executable file not found in $PATH',
    );
    expect(store.get(missing.Id).State.ExitCode).toBe(127);

    const denied = container('denied');
    cd.handlers.set('Tasks.create', async () => {
      throw grpcError(Code.UNKNOWN, 'failed to create shim task: OCI runtime create failed: exec: "/etc/passwd": permission denied');
    });
    r = await request('POST', `/v1.45/containers/${denied.Id}/start`);
    expect(r.status).toBe(400);
    expect(message(r.body)).toMatch(/: exec: "\/etc\/passwd": permission denied$/);
    expect(store.get(denied.Id).State.ExitCode).toBe(126);
  });

  it("a start that fails after create: containerd's message as is (no create prefix), the task deleted, exit code 128", async () => {
    const c = container('late');
    cd.handlers.set('Tasks.create', async () => ({ containerId: c.Id, pid: 4321 }));
    cd.handlers.set('Tasks.start', async () => {
      throw grpcError(Code.UNKNOWN, 'OCI runtime start failed: container x could not start: error running hook #0 (startContainer /bin/false): exit status 1');
    });
    const r = await request('POST', `/v1.45/containers/${c.Id}/start`);
    expect(r.status).toBe(500);
    expect(message(r.body)).toBe('OCI runtime start failed: container x could not start: error running hook #0 (startContainer /bin/false): exit status 1');
    expect(store.get(c.Id).State).toMatchObject({ Status: 'created', ExitCode: 128 });
    expect(cd.methods().slice(-2)).toEqual(['Tasks.start', 'Tasks.delete']);
  });

  // gantry-containerd killed -9 under a call: the connection drops and the call fails with UNAVAILABLE
  const dropped = () => grpcError(Code.UNAVAILABLE, 'Connection dropped');

  it('a Tasks.Create cut by a gantry-containerd restart: the task is deleted and created again, the start succeeds', async () => {
    const c = container('redo');
    let creates = 0;
    cd.handlers.set('Tasks.create', async () => {
      if (++creates === 1) throw dropped();
      return { containerId: c.Id, pid: 4321 };
    });
    cd.handlers.set('Tasks.start', async () => ({ pid: 4321 }));
    cd.handlers.set('Tasks.get', async () => ({ process: { pid: 4321, status: 2 /* RUNNING */ } }));
    const r = await request('POST', `/v1.45/containers/${c.Id}/start`);
    expect(r.status).toBe(204);
    expect(store.get(c.Id).State).toMatchObject({ Status: 'running', Running: true, Pid: 4321 });
    expect(cd.methods().filter((m) => m === 'Tasks.create' || m === 'Tasks.start')).toEqual(['Tasks.create', 'Tasks.create', 'Tasks.start']);
    // the cut create's task was deleted before the second create
    const seq = cd.methods();
    expect(seq.indexOf('Tasks.delete', seq.indexOf('Tasks.create'))).toBeLessThan(seq.lastIndexOf('Tasks.create'));
    await mgr.handleTaskExit({ containerId: c.Id, pid: 4321, exitStatus: 0, exitedAt: new Date() });
  });

  it('a Tasks.Start whose reply was lost: the restarted daemon says whether it ran; a CREATED task is started again', async () => {
    const ran = container('ran');
    cd.handlers.set('Tasks.create', async () => ({ containerId: ran.Id, pid: 11 }));
    cd.handlers.set('Tasks.start', async () => {
      throw dropped();
    });
    cd.handlers.set('Tasks.get', async () => ({ process: { pid: 11, status: 2 /* RUNNING */ } }));
    expect((await request('POST', `/v1.45/containers/${ran.Id}/start`)).status).toBe(204);
    expect(store.get(ran.Id).State).toMatchObject({ Status: 'running', Pid: 11 });
    expect(cd.methods().filter((m) => m === 'Tasks.start')).toHaveLength(1);
    await mgr.handleTaskExit({ containerId: ran.Id, pid: 11, exitStatus: 0, exitedAt: new Date() });

    const waiting = container('waiting');
    cd.calls.length = 0;
    let starts = 0;
    cd.handlers.set('Tasks.create', async () => ({ containerId: waiting.Id, pid: 12 }));
    cd.handlers.set('Tasks.start', async () => {
      if (++starts === 1) throw dropped();
      return { pid: 12 };
    });
    cd.handlers.set('Tasks.get', async () => ({ process: { pid: 12, status: starts < 2 ? 1 /* CREATED */ : 2 } }));
    expect((await request('POST', `/v1.45/containers/${waiting.Id}/start`)).status).toBe(204);
    expect(cd.methods().filter((m) => m === 'Tasks.start')).toHaveLength(2);
    await mgr.handleTaskExit({ containerId: waiting.Id, pid: 12, exitStatus: 0, exitedAt: new Date() });
  });

  it('a start whose task already exited while gantry-containerd was away is settled (the exit event was lost)', async () => {
    const c = container('quick');
    cd.handlers.set('Tasks.create', async () => ({ containerId: c.Id, pid: 13 }));
    cd.handlers.set('Tasks.start', async () => {
      throw dropped();
    });
    cd.handlers.set('Tasks.get', async () => ({ process: { pid: 13, status: 3 /* STOPPED */, exitStatus: 7, exitedAt: { seconds: 1, nanos: 0 } } }));
    expect((await request('POST', `/v1.45/containers/${c.Id}/start`)).status).toBe(204);
    expect(store.get(c.Id).State).toMatchObject({ Status: 'exited', Running: false, ExitCode: 7 });
  });

  it('docker rm -f whose SIGKILL was cut by a gantry-containerd restart: the kill is sent again and the removal completes', async () => {
    const c = container('victim', true);
    let kills = 0;
    cd.handlers.set('Tasks.kill', async () => {
      if (++kills === 1) throw dropped();
      // the second kill lands: the exit comes on the event stream
      setImmediate(() => void mgr.handleTaskExit({ containerId: c.Id, pid: 4242, exitStatus: 137, exitedAt: new Date() }));
      return {};
    });
    const r = await request('DELETE', `/v1.45/containers/${c.Id}?force=1`);
    expect(r.status).toBe(204);
    expect(kills).toBe(2);
    expect(store.find(c.Id)).toBeUndefined();
  });

  it('docker rm -f of a container whose task is gone (kill: not found): settled from gantry-containerd, removed at once', async () => {
    const c = container('ghost', true);
    cd.handlers.set('Tasks.kill', async () => {
      throw grpcError(Code.NOT_FOUND, 'task not found');
    });
    cd.handlers.set('Tasks.get', async () => {
      throw grpcError(Code.NOT_FOUND, 'task not found');
    });
    const t0 = Date.now();
    const r = await request('DELETE', `/v1.45/containers/${c.Id}?force=1`);
    expect(r.status).toBe(204);
    // before, this waited for an exit event that never came
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(store.find(c.Id)).toBeUndefined();
  });

  it("an attached exec that cannot start: the message on the stream's stdout (CRLF), exit code 127 on inspect", async () => {
    const c = container('box', true);
    cd.handlers.set('Containers.get', async () => ({
      container: { spec: { value: Buffer.from(JSON.stringify({ process: { args: ['sh'], cwd: '/', env: ['PATH=/bin'], user: { uid: 0, gid: 0 } } })) } },
    }));
    const said = 'OCI runtime exec failed: exec: "nope": executable file not found in $PATH';
    cd.handlers.set('Tasks.start', async () => {
      throw grpcError(Code.UNKNOWN, said);
    });
    const created = await request('POST', `/v1.45/containers/${c.Id}/exec`, { Cmd: ['nope'], AttachStdout: true, AttachStderr: true });
    const execId = (JSON.parse(created.body.toString()) as { Id: string }).Id;
    const r = await request('POST', `/v1.45/exec/${execId}/start`, { Detach: false, Tty: false });
    expect(r.status).toBe(200);
    expect(r.body).toEqual(frame(StdStream.Stdout, Buffer.from(`${said}\r\n`)));
    const inspected = await request('GET', `/v1.45/exec/${execId}/json`);
    expect(JSON.parse(inspected.body.toString())).toMatchObject({ ExitCode: 127, Running: false });
    expect(cd.methods()).toContain('Tasks.deleteProcess');
  });

  it('a detached exec that cannot start: the error response (400 for a command that cannot run, 500 otherwise), exit code 126/128', async () => {
    const c = container('box2', true);
    cd.handlers.set('Containers.get', async () => ({
      container: { spec: { value: Buffer.from(JSON.stringify({ process: { args: ['sh'], cwd: '/', user: { uid: 0, gid: 0 } } })) } },
    }));
    const run = async (said: string) => {
      cd.handlers.set('Tasks.start', async () => {
        throw grpcError(Code.UNKNOWN, said);
      });
      const created = await request('POST', `/v1.45/containers/${c.Id}/exec`, { Cmd: ['x'] });
      const execId = (JSON.parse(created.body.toString()) as { Id: string }).Id;
      const r = await request('POST', `/v1.45/exec/${execId}/start`, { Detach: true });
      const inspected = JSON.parse((await request('GET', `/v1.45/exec/${execId}/json`)).body.toString()) as { ExitCode: number };
      return { status: r.status, message: message(r.body), exitCode: inspected.ExitCode };
    };
    expect(await run('OCI runtime exec failed: exec: "/etc": permission denied')).toEqual({
      status: 400,
      message: 'OCI runtime exec failed: exec: "/etc": permission denied',
      exitCode: 126,
    });
    expect(await run('OCI runtime exec failed: unable to apply caps: operation not permitted')).toEqual({
      status: 500,
      message: 'OCI runtime exec failed: unable to apply caps: operation not permitted',
      exitCode: 128,
    });
  });

  it("a privileged exec asks the runtime for every capability (as dockerd), the container's own otherwise", async () => {
    const c = container('box3', true);
    const containerCaps = { bounding: ['CAP_KILL'], effective: ['CAP_KILL'], permitted: ['CAP_KILL'] };
    cd.handlers.set('Containers.get', async () => ({
      container: {
        spec: { value: Buffer.from(JSON.stringify({ process: { args: ['sh'], cwd: '/', user: { uid: 0, gid: 0 }, capabilities: containerCaps } })) },
      },
    }));
    cd.handlers.set('Tasks.start', async () => ({ pid: 77 }));
    let exit!: (r: { exitStatus: number }) => void;
    const exited = new Promise((r) => (exit = r));
    cd.handlers.set('Tasks.wait', () => exited);
    const capsOf = async (privileged: boolean) => {
      const created = await request('POST', `/v1.45/containers/${c.Id}/exec`, { Cmd: ['true'], Privileged: privileged });
      const execId = (JSON.parse(created.body.toString()) as { Id: string }).Id;
      expect((await request('POST', `/v1.45/exec/${execId}/start`, { Detach: true })).status).toBe(200);
      const req = cd.calls.filter((x) => x.method === 'Tasks.exec').pop()!.req as { spec: { value: Buffer } };
      return (JSON.parse(req.spec.value.toString()) as { capabilities: Record<string, string[]> }).capabilities;
    };
    const all = await capsOf(true);
    expect(all.permitted).toEqual(expect.arrayContaining(['CAP_SYS_ADMIN', 'CAP_SYS_TIME', 'CAP_SYS_RESOURCE', 'CAP_KILL']));
    expect(all.bounding).toEqual(all.permitted);
    expect(all.effective).toEqual(all.permitted);
    expect(await capsOf(false)).toEqual(containerCaps);
    exit({ exitStatus: 0 });
  });
});

describe("startFailure (dockerd's setExitCodeFromError)", () => {
  it("classifies by the message, keeps the gRPC status for the rest, and adds dockerd's hints", () => {
    // what the client gets: the status through the router's one mapping, the message, the exit code
    const answer = (f: StartFailure) => ({ status: toHttpError(f.error).status, message: f.error.message, exitCode: f.exitCode });
    expect(answer(startFailure(grpcError(Code.UNKNOWN, 'x: exec: "/bin": is a directory')))).toEqual({
      status: 400,
      message: 'x: exec: "/bin": is a directory: permission denied',
      exitCode: 126,
    });
    const notDir = startFailure(grpcError(Code.UNKNOWN, 'mount /a to /b: not a directory'), 'failed to create task for container');
    expect(notDir.exitCode).toBe(127);
    expect(notDir.error.message).toMatch(
      /^failed to create task for container: mount \/a to \/b: not a directory: Are you trying to mount a directory onto a file/,
    );
    expect(answer(startFailure(grpcError(Code.INVALID_ARGUMENT, 'process is required')))).toEqual({
      status: 400,
      message: 'process is required',
      exitCode: 128,
    });
    expect(answer(startFailure(grpcError(Code.ALREADY_EXISTS, 'task t already exists'))).status).toBe(409);
    expect(answer(startFailure(new Error('EIO'))).status).toBe(500);
    expect(answer(startFailure(grpcError(Code.UNKNOWN, 'hook said:\nno')))).toEqual({ status: 500, message: 'hook said:\\nno', exitCode: 128 });
  });
});
