/**
 * Bad input over raw HTTP to gantryd: every request gets Docker's status and a `{"message"}` body,
 * the daemon keeps serving, and nothing (container, process, mount) is left half-created.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import { type GantrydHarness, type HttpResult, sharedGantryd } from '../src/gantryd';

describe('gantryd answers bad input as Docker does', () => {
  let h: GantrydHarness;

  beforeAll(async () => {
    h = await sharedGantryd();
  }, 120000);

  afterAll(async () => {
    await h?.stop();
  }, 60000);

  const post = (path: string, body?: string | Buffer) => h.request('POST', path, body);
  const expectError = (r: HttpResult, status: number, message?: string | RegExp): void => {
    expect({ status: r.status, type: r.headers['content-type'] }).toEqual({ status, type: expect.stringContaining('application/json') });
    const body = JSON.parse(r.body) as { message?: unknown };
    expect(typeof body.message).toBe('string');
    if (typeof message === 'string') expect(body.message).toBe(message);
    else if (message) expect(body.message).toMatch(message);
  };
  /** Processes started under the harness directory, and mounts under it. */
  const footprint = () => {
    let procs = 0;
    for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      try {
        const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        // gantry-containerd's idle spare shim (`--warm`, still waiting on its stdin, a socketpair from Node) is expected
        const idleSpare = cmd.split('\0').includes('--warm') && /^(pipe|socket):/.test(fs.readlinkSync(`/proc/${pid}/fd/0`));
        if (cmd.includes(h.dir) && !idleSpare) procs++;
      } catch {
        // gone
      }
    }
    const mounts = fs
      .readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .filter((l) => l.includes(h.dir)).length;
    return { procs, mounts };
  };
  const containerCount = async () => (JSON.parse((await h.request('GET', '/containers/json?all=1')).body) as unknown[]).length;

  it('rejects malformed and mistyped create bodies with 400 and creates nothing', async () => {
    const before = await containerCount();
    expectError(await post('/v1.45/containers/create', '{bad'), 400, /invalid JSON|invalid character/);
    expectError(await post('/v1.45/containers/create', '[1,2]'), 400);
    expectError(await post('/v1.45/containers/create', '{"Image":"busybox","Cmd":5}'), 400, /Cmd/);
    expectError(await post('/v1.45/containers/create', '{"Image":"busybox","HostConfig":{"Memory":"x"}}'), 400, /Memory/);
    expectError(await post('/v1.45/containers/create', '{"Image":"busybox","Env":"A=1"}'), 400, /Env/);
    // unknown fields are ignored as dockerd does, known ones are still typed
    expectError(await post('/v1.45/containers/create', '{"Image":"busybox","Bogus":1,"Tty":"yes"}'), 400, /Tty/);
    expectError(await post('/v1.45/containers/create', '{"Image":"nosuchimage","HostConfig":{"Nope":true}}'), 404, 'No such image: nosuchimage:latest');
    expectError(
      await post('/v1.45/containers/create?name=bad/name', '{"Image":"busybox"}'),
      400,
      'Invalid container name (bad/name), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed',
    );
    expectError(await post('/v1.45/containers/create?name=x', '{"Image":"busybox"}'), 400, /Invalid container name \(x\)/);
    expectError(await post('/v1.45/containers/create', '{"Image":"nosuchimage"}'), 404, 'No such image: nosuchimage:latest');
    expect(await containerCount()).toBe(before);
  });

  it('answers unknown ids with 404 and Docker messages', async () => {
    expectError(await h.request('GET', '/v1.45/containers/nosuch/json'), 404, 'No such container: nosuch');
    expectError(await post('/v1.45/containers/nosuch/start'), 404, 'No such container: nosuch');
    expectError(await post('/v1.45/containers/nosuch/stop'), 404, 'No such container: nosuch');
    expectError(await h.request('DELETE', '/v1.45/containers/nosuch'), 404, 'No such container: nosuch');
    expectError(await h.request('GET', '/v1.45/images/nosuch/json'), 404, 'No such image: nosuch:latest');
    expectError(await h.request('DELETE', '/v1.45/images/nosuch'), 404, 'No such image: nosuch:latest');
    expectError(await h.request('GET', '/v1.45/exec/nosuch/json'), 404, 'No such exec instance: nosuch');
    expectError(await post('/v1.45/exec/nosuch/start', '{}'), 404, 'No such exec instance: nosuch');
    expectError(await post('/v1.45/containers/nosuch/exec', '{"Cmd":["true"]}'), 404, 'No such container: nosuch');
    expectError(await h.request('GET', '/v1.45/no/such/endpoint'), 404, 'page not found');
  });

  it('refuses a taken name with 409 and keeps the first container', async () => {
    const first = await post('/v1.45/containers/create?name=taken', '{"Image":"busybox"}');
    expect(first.status).toBe(201);
    const id = (JSON.parse(first.body) as { Id: string }).Id;
    expectError(
      await post('/v1.45/containers/create?name=taken', '{"Image":"busybox"}'),
      409,
      `Conflict. The container name "/taken" is already in use by container "${id}". You have to remove (or rename) that container to be able to reuse that name.`,
    );
    expect((await h.request('GET', '/v1.45/containers/taken/json')).status).toBe(200);
  });

  it('validates query parameters before acting (stop ?t=abc, kill with a bad signal)', async () => {
    h.ok(['run', '-d', '--name', 'qp', 'busybox', 'sleep', '1000']);
    expectError(await post('/v1.45/containers/qp/stop?t=abc'), 400, /abc/);
    expectError(await post('/v1.45/containers/qp/restart?t=1.5x'), 400);
    expectError(await post('/v1.45/containers/qp/kill?signal=SIGBOGUS'), 400, 'Invalid signal: SIGBOGUS');
    expectError(await post('/v1.45/containers/qp/kill?signal=999'), 400, 'Invalid signal: 999');
    // none of that touched the container
    expect(JSON.parse(h.ok(['inspect', '--format', '{{json .State.Running}}', 'qp']))).toBe(true);
    // a stopped container: the bad signal is still a 400, a good one a 409
    h.ok(['rm', '-f', 'qp']);
    h.ok(['create', '--name', 'qp2', 'busybox', 'true']);
    expectError(await post('/v1.45/containers/qp2/kill?signal=SIGBOGUS'), 400, 'Invalid signal: SIGBOGUS');
    expectError(await post('/v1.45/containers/qp2/kill?signal=TERM'), 409, /is not running/);
  });

  it('rejects unsupported API versions with 400', async () => {
    expectError(await h.request('GET', '/v1.99/version'), 400, 'client version 1.99 is too new. Maximum supported API version is 1.45');
    expectError(await h.request('GET', '/v1.12/version'), 400, /client version 1.12 is too old. Minimum supported API version is 1.24/);
    expect((await h.request('GET', '/v1.24/version')).status).toBe(200);
  });

  it('answers HEAD /_ping with headers and no body', async () => {
    const r = await h.request('HEAD', '/_ping');
    expect(r.status).toBe(200);
    expect(r.headers['api-version']).toBe('1.45');
    expect(r.body).toBe('');
  });

  it('refuses an oversized body and keeps serving', async () => {
    const big = Buffer.alloc(20 << 20, 0x20);
    const r = await post('/v1.45/containers/create', big).catch((e: Error) => ({ status: -1, headers: {}, body: e.message }) as HttpResult);
    // the daemon may answer and close before reading it all; when it answers, it is 413 or 400
    if (r.status !== -1) expect([400, 413]).toContain(r.status);
    expect((await h.request('GET', '/_ping')).status).toBe(200);
  });

  it('survives garbage on the socket and a client that hangs up mid-request', async () => {
    await new Promise<void>((resolve) => {
      const s = net.connect(h.sock, () => s.end('NOT HTTP AT ALL\r\n\r\n'));
      s.on('data', () => undefined);
      s.on('close', () => resolve());
      s.on('error', () => resolve());
    });
    await new Promise<void>((resolve) => {
      const s = net.connect(h.sock, () => {
        s.write('POST /v1.45/containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"Ima');
        setTimeout(() => s.destroy(), 100);
      });
      s.on('close', () => resolve());
      s.on('error', () => resolve());
    });
    expect((await h.request('GET', '/_ping')).status).toBe(200);
  });

  it("reports the init stage's own error when the process cannot start (a limit above the kernel's)", () => {
    // the init sets rlimits before it reports ready, so the runtime's create fails with it (as runc's)
    const r = h.docker(['run', '--rm', '--ulimit', 'nofile=2000000000:2000000000', 'busybox', 'true']);
    expect(r.status).toBe(125);
    expect(r.stderr).toMatch(/Error response from daemon: .*prlimit 7: EPERM/);
  });

  it('after all of it: docker run --rm works and nothing leaked', async () => {
    for (const n of ['taken', 'qp2']) h.docker(['rm', '-f', n]);
    const before = footprint();
    expect(h.ok(['run', '--rm', 'busybox', 'echo', 'still-fine'])).toBe('still-fine\n');
    // shims and mounts of the finished container go away (allow them a moment)
    const deadline = Date.now() + 10000;
    let now = footprint();
    while ((now.procs > before.procs || now.mounts > before.mounts) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      now = footprint();
    }
    expect(now).toEqual(before);
    expect(await containerCount()).toBe(0);
    // only the daemon and its gantry-containerd (and an idle spare shim, not counted) run under our directory now
    expect(now.procs).toBe(2);
    expect(now.mounts).toBe(0);
  });
});
