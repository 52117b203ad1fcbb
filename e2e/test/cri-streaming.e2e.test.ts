/**
 * CRI Exec, Attach and PortForward on gantry-containerd: the RPCs hand out URLs on its streaming
 * server, and @gantry/cri-streaming's client speaks SPDY/3.1 and WebSocket to them as client-go does.
 */
import { cri } from '@gantry/api';
import { portForward, remoteCommand } from '@gantry/cri-streaming';
import { describeIf, needRoot, needTool, waitFor } from '@gantry/testkit';
import { CriHarness } from '../src/cri';

jest.setTimeout(240_000);

const TRANSPORTS = ['spdy', 'websocket'] as const;

describeIf(needRoot(), needTool('ctr', 'containerd'))('CRI streaming on gantry-containerd', () => {
  const h = new CriHarness({ bridge: 'gcri-str0', subnet: '10.211.9' });
  let pod: { id: string; config: cri.PodSandboxConfig };
  let shell: string;

  beforeAll(async () => {
    await h.start();
    pod = await h.runPod('streaming');
    shell = await h.runContainer(pod, 'shell', 'mkdir -p /www && echo hello-forward > /www/index.html && exec httpd -f -p 8080 -h /www');
    await waitFor('httpd answers inside the pod', async () => {
      const r = await h.call(
        h.runtime,
        h.runtime.execSync,
        cri.ExecSyncRequest.fromPartial({ containerId: shell, cmd: ['wget', '-qO-', 'http://127.0.0.1:8080/'], timeout: 5n }),
      );
      return r.exitCode === 0 && r.stdout.toString().includes('hello-forward');
    });
  });
  afterAll(async () => {
    if (pod) await h.removePod(pod.id).catch(() => undefined);
    await h.stop();
  });

  const execUrl = async (cmd: string[], o: Partial<cri.ExecRequest> = {}) =>
    (await h.call(h.runtime, h.runtime.exec, cri.ExecRequest.fromPartial({ containerId: shell, cmd, stdout: true, stderr: true, ...o }))).url;

  test('Exec answers with a loopback URL on the streaming server', async () => {
    expect(await execUrl(['true'])).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/exec\/[A-Za-z0-9_-]+$/);
  });

  test.each(TRANSPORTS)('Exec over %s: stdout, stderr and the exit code', async (transport) => {
    const r = await remoteCommand(await execUrl(['sh', '-c', 'echo out; echo err >&2; exit 3']), { transport });
    expect(r.stdout.toString()).toBe('out\n');
    expect(r.stderr.toString()).toBe('err\n');
    expect(r.exitCode).toBe(3);
    const ok = await remoteCommand(await execUrl(['true']), { transport });
    expect(ok.exitCode).toBe(0);
  });

  test.each(TRANSPORTS)('Exec over %s: stdin reaches the process and its end is EOF', async (transport) => {
    const r = await remoteCommand(await execUrl(['sh', '-c', 'wc -c; echo done'], { stdin: true }), { transport, stdin: 'twelve bytes' });
    expect(r.stdout.toString()).toBe('12\ndone\n');
    expect(r.exitCode).toBe(0);
  });

  test.each(TRANSPORTS)('Exec over %s with a TTY: output comes through the terminal', async (transport) => {
    const r = await remoteCommand(await execUrl(['sh', '-c', 'test -t 1 && echo on-a-tty'], { tty: true, stderr: false }), {
      transport,
      tty: true,
      resize: [{ width: 100, height: 30 }],
    });
    expect(r.stdout.toString()).toContain('on-a-tty\r\n');
    expect(r.exitCode).toBe(0);
  });

  test('Exec in a missing container is NOT_FOUND', async () => {
    await expect(execUrl(['true'], { containerId: 'nope' })).rejects.toMatchObject({ code: 5 });
  });

  test.each(TRANSPORTS)('Attach over %s follows the container output until it exits', async (transport) => {
    const id = await h.runContainer(pod, `talker-${transport}`, 'for i in $(seq 1 40); do echo out$i; echo err$i >&2; sleep 0.1; done');
    const { url } = await h.call(h.runtime, h.runtime.attach, cri.AttachRequest.fromPartial({ containerId: id, stdout: true, stderr: true }));
    const r = await remoteCommand(url, { transport });
    const lines = (b: Buffer) => b.toString().split('\n').filter(Boolean);
    const out = lines(r.stdout);
    // attached while it ran: a tail of its output, in order, up to its last line
    expect(out.length).toBeGreaterThan(3);
    expect(out.at(-1)).toBe('out40');
    const first = Number(out[0]!.slice(3));
    expect(out).toEqual(Array.from({ length: 41 - first }, (_, i) => `out${first + i}`));
    expect(lines(r.stderr).at(-1)).toBe('err40');
    expect(r.exitCode).toBe(0);
  });

  test.each(TRANSPORTS)('Attach over %s with stdin_once: input reaches the container, its end closes the container stdin', async (transport) => {
    const id = await h.runContainer(pod, `cat-${transport}`, 'cat; echo stdin-closed', { stdin: true, stdinOnce: true });
    const { url } = await h.call(h.runtime, h.runtime.attach, cri.AttachRequest.fromPartial({ containerId: id, stdin: true, stdout: true, stderr: true }));
    const r = await remoteCommand(url, { transport, stdin: 'through attach\n' });
    expect(r.stdout.toString()).toBe('through attach\nstdin-closed\n');
    const st = await h.call(h.runtime, h.runtime.containerStatus, { containerId: id, verbose: false });
    expect(st.status?.exitCode).toBe(0);
  });

  test.each(TRANSPORTS)('PortForward over %s reaches httpd on the pod loopback', async (transport) => {
    const { url } = await h.call(h.runtime, h.runtime.portForward, cri.PortForwardRequest.fromPartial({ podSandboxId: pod.id, port: [8080] }));
    const fwd = await portForward(url, 8080, { transport });
    const chunks: Buffer[] = [];
    fwd.stream.on('data', (d: Buffer) => chunks.push(d));
    const ended = new Promise((r) => fwd.stream.on('end', r));
    fwd.stream.write('GET /index.html HTTP/1.0\r\n\r\n');
    await ended;
    const text = Buffer.concat(chunks).toString();
    expect(text).toMatch(/^HTTP\/1\.[01] 200/);
    expect(text).toContain('hello-forward');
    fwd.close();
  });

  test('PortForward to a closed port reports the connection failure on the error stream', async () => {
    const { url } = await h.call(h.runtime, h.runtime.portForward, cri.PortForwardRequest.fromPartial({ podSandboxId: pod.id, port: [8081] }));
    const fwd = await portForward(url, 8081);
    fwd.stream.resume();
    expect(await fwd.error).toMatch(/8081/);
    fwd.close();
  });

  test('PortForward for a missing pod is NOT_FOUND', async () => {
    await expect(h.call(h.runtime, h.runtime.portForward, cri.PortForwardRequest.fromPartial({ podSandboxId: 'nope', port: [80] }))).rejects.toMatchObject({
      code: 5,
    });
  });
});
