/**
 * @gantry/client's exec endpoints against a running gantryd: attached exec (multiplexed, with
 * stdin closed by a write shutdown), a TTY exec's raw output and resize, a detached exec, inspect,
 * and the errors of an exec in a stopped container.
 */
import { collectOutput, ConflictError, type EngineClient, NotFoundError } from '@gantry/client';
import { describeIf, needRoot, waitFor } from '@gantry/testkit';
import { clientFor, drain } from '../src/client';
import { type GantrydHarness, sharedGantryd } from '../src/gantryd';

const d = describeIf(needRoot());

d('client: exec', () => {
  let h: GantrydHarness;
  let client: EngineClient;
  let id: string;

  beforeAll(async () => {
    h = await sharedGantryd();
    client = clientFor(h);
    id = (await client.containers.create({ Image: 'busybox', Cmd: ['sleep', '300'] })).Id;
    await client.containers.start(id);
  }, 120000);

  afterAll(async () => {
    if (id) await client.containers.remove(id, { force: true });
    await h?.stop();
  }, 60000);

  it('runs a command attached: stdout and stderr apart, then its exit code', async () => {
    const { Id } = await client.exec.create(id, { Cmd: ['sh', '-c', 'echo to-out; echo to-err >&2; exit 7'], AttachStdout: true, AttachStderr: true });
    const s = await client.exec.start(Id);
    expect(s.tty).toBe(false);
    expect(await collectOutput(s.output)).toEqual({ stdout: 'to-out\n', stderr: 'to-err\n' });
    const info = await waitFor('the exec to be reaped', async () => {
      const i = await client.exec.inspect(Id);
      return !i.Running && i;
    });
    expect(info).toMatchObject({ ExitCode: 7, ContainerID: id, OpenStdout: true, ProcessConfig: { entrypoint: 'sh' } });
  });

  it('sends stdin and half-closes it: the process sees EOF and its output still arrives', async () => {
    const { Id } = await client.exec.create(id, { Cmd: ['sh', '-c', 'wc -c; echo after-eof'], AttachStdin: true, AttachStdout: true, AttachStderr: true });
    const s = await client.exec.start(Id);
    s.socket.write('12345');
    s.socket.write('6789\n');
    s.socket.end();
    const out = await collectOutput(s.output);
    expect(out.stdout.split('\n').map((l) => l.trim())).toEqual(['10', 'after-eof', '']);
  });

  it('a TTY exec gives raw output (the terminal echoes stdin) and takes a resize', async () => {
    const { Id } = await client.exec.create(id, { Cmd: ['sh', '-c', 'read x; echo got $x'], Tty: true, AttachStdin: true, AttachStdout: true });
    const s = await client.exec.start(Id, { tty: true, consoleSize: [30, 90] });
    expect(s.tty).toBe(true);
    const output = drain(s.output);
    await waitFor('the exec to run', async () => (await client.exec.inspect(Id)).Running);
    await client.exec.resize(Id, { h: 50, w: 120 });
    s.socket.write('abc\n');
    const frames = await output;
    expect(frames.every((f) => f.stream === 'stdout')).toBe(true);
    // the terminal's echo of the input, then the output, both with the terminal's CRLF
    expect(Buffer.concat(frames.map((f) => f.data)).toString()).toBe('abc\r\ngot abc\r\n');
    await expect(client.exec.resize(Id, { h: 10, w: 10 })).rejects.toBeInstanceOf(ConflictError); // it has ended
  });

  it('starts detached and inspects the running process', async () => {
    const { Id } = await client.exec.create(id, { Cmd: ['sleep', '2'] });
    await client.exec.startDetached(Id);
    const i = await client.exec.inspect(Id);
    expect(i.Running).toBe(true);
    expect(i.Pid).toBeGreaterThan(0);
    expect((await client.containers.inspect(id)).ExecIDs).toContain(Id);
  });

  it('an unknown exec is a NotFoundError; exec in a stopped container is a ConflictError', async () => {
    await expect(client.exec.inspect('no-such-exec')).rejects.toBeInstanceOf(NotFoundError);
    const stopped = (await client.containers.create({ Image: 'busybox', Cmd: ['true'] })).Id;
    try {
      await expect(client.exec.create(stopped, { Cmd: ['true'] })).rejects.toBeInstanceOf(ConflictError);
    } finally {
      await client.containers.remove(stopped);
    }
  });

  it('output of a long-running exec is an async iterable the caller can leave early', async () => {
    const { Id } = await client.exec.create(id, { Cmd: ['sh', '-c', 'while true; do echo tick; sleep 0.1; done'], AttachStdout: true });
    const s = await client.exec.start(Id);
    let ticks = 0;
    for await (const f of s.output) {
      ticks += f.data.toString().split('tick').length - 1;
      if (ticks >= 3) break;
    }
    s.socket.destroy();
    expect(ticks).toBeGreaterThanOrEqual(3);
    expect(await drain(s.output)).toEqual([]);
  });
});
