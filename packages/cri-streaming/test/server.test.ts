/** The streaming server end to end on loopback: the package's client against a fake runtime, over SPDY and WebSocket. */
import * as http from 'node:http';
import * as net from 'node:net';
import { Logger } from '@gantry/linux';
import { waitFor } from '@gantry/testkit';
import { portForward, remoteCommand, StreamingHttpError, StreamingServer } from '../src';
import { FakeRuntime, upperCaseServer } from './fake-runtime';

const quiet = new Logger('error', {}, () => undefined);
const execReq = (cmd: string[], o: Partial<{ tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean }> = {}) => ({
  containerId: 'c1',
  cmd,
  tty: o.tty ?? false,
  stdin: o.stdin ?? false,
  stdout: o.stdout ?? true,
  stderr: o.stderr ?? !(o.tty ?? false),
});

let runtime: FakeRuntime;
let server: StreamingServer;

beforeEach(async () => {
  runtime = new FakeRuntime();
  server = new StreamingServer({ runtime, log: quiet, tokenTtlMs: 2000, streamCreationTimeoutMs: 2000 });
  await server.start();
});
afterEach(() => server.stop());

describe.each(['spdy', 'websocket'] as const)('exec over %s', (transport) => {
  it('returns stdout, stderr and a zero exit code', async () => {
    const { url } = server.getExec(execReq(['echo', 'hello', 'world']));
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/exec\/[A-Za-z0-9_-]+$/);
    const r = await remoteCommand(url, { transport });
    expect(r.stdout.toString()).toBe('hello world\n');
    expect(r.stderr.toString()).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.protocol).toBe(transport === 'spdy' ? 'v4.channel.k8s.io' : 'v5.channel.k8s.io');
    expect(runtime.calls).toEqual([{ kind: 'exec', id: 'c1', cmd: ['echo', 'hello', 'world'], tty: false, stdin: false, stdout: true, stderr: true }]);
  });

  it('reports a non-zero exit code in the v4 Status, beside the output', async () => {
    const r = await remoteCommand(server.getExec(execReq(['fail', '7'])).url, { transport });
    expect(r.exitCode).toBe(7);
    expect(r.status).toMatchObject({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '7' }] } });
    expect(r.stdout.toString()).toBe('some output\n');
    expect(r.stderr.toString()).toBe('it failed\n');
  });

  it('passes stdin through and ends it when the client closes it', async () => {
    const input = Buffer.alloc(200_000, 'a');
    const r = await remoteCommand(server.getExec(execReq(['cat'], { stdin: true })).url, { transport, stdin: input });
    expect(r.stdout.equals(input)).toBe(true);
    expect(r.stderr.toString()).toBe(`read ${input.length} bytes\n`);
    expect(r.exitCode).toBe(0);
  });

  it('delivers terminal sizes on the resize stream with a TTY', async () => {
    const sizes = [
      { width: 80, height: 24 },
      { width: 132, height: 50 },
    ];
    const r = await remoteCommand(server.getExec(execReq(['sizes', '2'], { tty: true, stdin: true })).url, { transport, tty: true, resize: sizes, stdin: '' });
    expect(JSON.parse(r.stdout.toString())).toEqual(sizes);
    expect(runtime.calls[0]).toMatchObject({ tty: true, stderr: false });
  });

  it('reports a runtime failure as an InternalError status', async () => {
    const r = await remoteCommand(server.getExec(execReq(['nope'])).url, { transport });
    expect(r.exitCode).toBeUndefined();
    expect(r.status).toMatchObject({ status: 'Failure', reason: 'InternalError', code: 500 });
    expect(r.status?.message).toContain('executable file not found: nope');
  });

  it('attaches with stdin and stdout', async () => {
    const { url } = server.getAttach({ containerId: 'c2', stdin: true, stdout: true, stderr: false, tty: false });
    expect(url).toContain('/attach/');
    const r = await remoteCommand(url, { transport, stdin: 'shout', stderr: false });
    expect(r.stdout.toString()).toBe('attached\nSHOUT');
    expect(r.exitCode).toBe(0);
    expect(runtime.calls[0]).toMatchObject({ kind: 'attach', id: 'c2' });
  });

  it('refuses an expired or reused URL with 404', async () => {
    const { url } = server.getExec(execReq(['echo', 'once']));
    await remoteCommand(url, { transport });
    await expect(remoteCommand(url, { transport })).rejects.toMatchObject({ statusCode: 404 });
    let clock = 1_000_000;
    const short = new StreamingServer({ runtime, log: quiet, tokenTtlMs: 60_000, now: () => clock });
    await short.start();
    try {
      const stale = short.getExec(execReq(['echo', 'late'])).url;
      clock += 60_000;
      const err = await remoteCommand(stale, { transport }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StreamingHttpError);
      expect((err as StreamingHttpError).statusCode).toBe(404);
    } finally {
      await short.stop();
    }
    expect(runtime.calls).toHaveLength(1);
  });
});

describe('exec protocol versions', () => {
  it.each(['v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'])('SPDY %s writes only a failure message on the error stream', async (protocol) => {
    const ok = await remoteCommand(server.getExec(execReq(['echo', 'x'])).url, { protocols: [protocol] });
    expect(ok).toMatchObject({ protocol, exitCode: 0 });
    expect(ok.errorText).toBeUndefined();
    const bad = await remoteCommand(server.getExec(execReq(['fail', '3'])).url, { protocols: [protocol] });
    expect(bad.errorText).toContain('exit code 3');
  });

  it.each(['v4.channel.k8s.io', 'v4.base64.channel.k8s.io', 'base64.channel.k8s.io', 'channel.k8s.io'])('WebSocket %s', async (protocol) => {
    // Without v5's close signal stdin cannot be closed: the command reads what it needs.
    const r = await remoteCommand(server.getExec(execReq(['read', '6'], { stdin: true })).url, {
      transport: 'websocket',
      protocols: [protocol],
      stdin: 'abcdef',
    });
    expect(r.protocol).toBe(protocol);
    expect(r.stdout.toString()).toBe('ABCDEF');
    expect(r.exitCode).toBe(0);
    const bad = await remoteCommand(server.getExec(execReq(['fail', '4'])).url, { transport: 'websocket', protocols: [protocol] });
    if (protocol.startsWith('v4')) expect(bad.exitCode).toBe(4);
    else expect(bad.errorText).toContain('exit code 4');
  });

  it('negotiates in the client order and refuses an unknown protocol with 403 over SPDY', async () => {
    const r = await remoteCommand(server.getExec(execReq(['echo', 'x'])).url, { protocols: ['v9.channel.k8s.io', 'v2.channel.k8s.io', 'v4.channel.k8s.io'] });
    expect(r.protocol).toBe('v2.channel.k8s.io');
    await expect(remoteCommand(server.getExec(execReq(['echo', 'x'])).url, { protocols: ['v9.channel.k8s.io'] })).rejects.toMatchObject({ statusCode: 403 });
    await expect(remoteCommand(server.getExec(execReq(['echo', 'x'])).url, { transport: 'websocket', protocols: ['v9.channel.k8s.io'] })).rejects.toMatchObject(
      {
        statusCode: 400,
      },
    );
  });

  it('answers a plain request (no upgrade) with 400 and an unknown path with 404', async () => {
    const get = (path: string): Promise<number> =>
      new Promise((resolve, reject) => http.get(`${server.url}${path}`, (res) => (res.resume(), resolve(res.statusCode ?? 0))).on('error', reject));
    const token = server
      .getExec(execReq(['echo']))
      .url.split('/')
      .pop()!;
    expect(await get(`/exec/${token}`)).toBe(400);
    expect(await get(`/exec/${token}`)).toBe(404);
    expect(await get('/nothing')).toBe(404);
    // An exec token on the attach route is not an attach.
    expect(
      await get(
        `/attach/${server
          .getExec(execReq(['echo']))
          .url.split('/')
          .pop()!}`,
      ),
    ).toBe(404);
  });
});

describe('CRI request validation', () => {
  it('refuses requests kubelet refuses', () => {
    expect(() => server.getExec(execReq(['sh'], { tty: true, stderr: true }))).toThrow('tty and stderr cannot both be true');
    expect(() => server.getExec(execReq(['sh'], { stdout: false, stderr: false }))).toThrow('one of stdin, stdout, or stderr must be set');
    expect(() => server.getExec(execReq([]))).toThrow('cmd must not be empty');
    expect(() => server.getExec({ ...execReq(['sh']), containerId: '' })).toThrow('container id');
    expect(() => server.getPortForward({ podSandboxId: 'p', port: [70000] })).toThrow('invalid port');
    expect(() => server.getPortForward({ podSandboxId: '', port: [] })).toThrow('pod sandbox id');
  });

  it('bounds the URLs in flight', async () => {
    const small = new StreamingServer({ runtime, log: quiet, maxInFlight: 2 });
    await small.start();
    try {
      small.getExec(execReq(['a']));
      small.getExec(execReq(['b']));
      expect(() => small.getExec(execReq(['c']))).toThrow(/in-flight/);
    } finally {
      await small.stop();
    }
  });
});

describe.each(['spdy', 'websocket'] as const)('port-forward over %s', (transport) => {
  it('forwards a connection to a loopback port', async () => {
    const target = await upperCaseServer();
    try {
      const { url } = server.getPortForward({ podSandboxId: 'pod1', port: [target.port] });
      expect(url).toContain('/portforward/');
      const fwd = await portForward(url, target.port, { transport });
      let seen = '';
      fwd.stream.on('data', (c: Buffer) => (seen += c.toString()));
      const ended = new Promise((r) => fwd.stream.once('end', r));
      fwd.stream.write('hello ');
      fwd.stream.write('pod');
      if (transport === 'spdy') {
        // SPDY half-closes: the end travels to the pod's socket and its end comes back.
        fwd.stream.end();
        await ended;
        expect(seen).toBe('HELLO POD');
        expect(await fwd.error).toBe('');
      } else {
        await waitFor('the echo through the pod port', () => seen === 'HELLO POD');
      }
      fwd.close();
    } finally {
      await target.close();
    }
  });

  it('reports a refused port on the error stream', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const fwd = await portForward(server.getPortForward({ podSandboxId: 'pod1', port: [port] }).url, port, { transport });
    fwd.stream.resume();
    fwd.stream.on('error', () => undefined);
    expect(await fwd.error).toMatch(new RegExp(`error forwarding port ${port} to pod pod1: .*ECONNREFUSED`));
    fwd.close();
  });
});
