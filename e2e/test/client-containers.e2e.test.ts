/**
 * @gantry/client's container endpoints against a running gantryd: the lifecycle, logs
 * (demultiplexed and raw), attach with stdin half-close, wait, top, stats, rename, pause, update,
 * changes, archives, export, resize, prune, and the typed errors of each misuse.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { collectOutput, ConflictError, type EngineClient, NotFoundError } from '@gantry/client';
import { describeIf, needRoot } from '@gantry/testkit';
import { clientFor, drain, readAll, tarNames, tarOf } from '../src/client';
import { type GantrydHarness, sharedGantryd } from '../src/gantryd';

const d = describeIf(needRoot());

d('client: containers', () => {
  let h: GantrydHarness;
  let client: EngineClient;
  const name = (s: string) => `client-c-${s}-${process.pid}`;

  beforeAll(async () => {
    h = await sharedGantryd();
    client = clientFor(h);
  }, 120000);

  afterAll(async () => {
    await h?.stop();
  }, 60000);

  it('create, inspect, list, start, wait and logs (stdout and stderr apart); remove', async () => {
    const { Id } = await client.containers.create(
      { Image: 'busybox', Cmd: ['sh', '-c', 'echo out; echo err >&2; exit 3'], Labels: { suite: 'client' } },
      { name: name('run') },
    );
    expect(Id).toMatch(/^[0-9a-f]{64}$/);
    const created = await client.containers.inspect(Id);
    expect(created.Name).toBe(`/${name('run')}`);
    expect(created.State.Status).toBe('created');
    expect(created.HostConfig.LogConfig?.Type).toBe('json-file');

    const listed = await client.containers.list({ all: true, filters: { label: ['suite=client'], name: [name('run')] } });
    expect(listed.map((c) => c.Id)).toEqual([Id]);
    expect(listed[0]!.Names).toEqual([`/${name('run')}`]);
    expect(await client.containers.list({ filters: { name: [name('run')] } })).toEqual([]); // not running

    expect(await client.containers.start(Id)).toBe(true);
    expect(await client.containers.wait(Id)).toMatchObject({ StatusCode: 3 });
    expect(await collectOutput(client.containers.logs(Id))).toEqual({ stdout: 'out\n', stderr: 'err\n' });
    expect(await collectOutput(client.containers.logs(Id, { stderr: false }))).toEqual({ stdout: 'out\n', stderr: '' });
    const stamped = await drain(client.containers.logs(Id, { timestamps: true, tail: 1 }));
    expect(stamped).toHaveLength(1);
    expect(stamped[0]!.data.toString()).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z (out|err)\n$/);

    await client.containers.remove(Id);
    await expect(client.containers.inspect(Id)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('a TTY container logs raw output as stdout', async () => {
    const { Id } = await client.containers.create({ Image: 'busybox', Tty: true, Cmd: ['sh', '-c', 'echo tty-out; echo tty-err >&2'] });
    await client.containers.start(Id);
    await client.containers.wait(Id);
    const frames = await drain(client.containers.logs(Id));
    expect(frames.every((f) => f.stream === 'stdout')).toBe(true);
    expect(Buffer.concat(frames.map((f) => f.data)).toString()).toBe('tty-out\r\ntty-err\r\n');
    await client.containers.remove(Id);
  });

  it('two starts of one container at once: one starts it, the other finds it running (304), as dockerd', async () => {
    const { Id } = await client.containers.create({ Image: 'busybox', Tty: true, Cmd: ['sleep', '30'] });
    // both used to create the task: the second failed (task already exists, a duplicate IP, or the
    // shim's console socket bind EADDRINUSE) and its clean-up deleted the first one's task
    const started = await Promise.all([client.containers.start(Id), client.containers.start(Id)]);
    expect(started.sort()).toEqual([false, true]);
    const { State } = await client.containers.inspect(Id);
    expect({ Status: State.Status, Error: State.Error }).toEqual({ Status: 'running', Error: '' });
    await client.containers.remove(Id, { force: true });
  });

  it('follows logs of a running container until it exits', async () => {
    const { Id } = await client.containers.create({ Image: 'busybox', Cmd: ['sh', '-c', 'for i in 1 2 3; do echo line$i; sleep 0.2; done'] });
    await client.containers.start(Id);
    const out = await collectOutput(client.containers.logs(Id, { follow: true, stderr: false }));
    expect(out.stdout).toBe('line1\nline2\nline3\n');
    await client.containers.remove(Id, { force: true });
  });

  it('attach with logs=1 to an exited container replays its log, and with stream=1 sends it before waiting', async () => {
    const { Id } = await client.containers.create({ Image: 'busybox', Cmd: ['sh', '-c', 'echo out; echo err >&2'] });
    await client.containers.start(Id);
    await client.containers.wait(Id);
    const replay = await client.containers.attach(Id, { logs: true, stream: false });
    expect(await collectOutput(replay.output)).toEqual({ stdout: 'out\n', stderr: 'err\n' });
    const onlyErr = await client.containers.attach(Id, { logs: true, stream: false, stdout: false });
    expect(await collectOutput(onlyErr.output)).toEqual({ stdout: '', stderr: 'err\n' });
    // stream=1: dockerd replays, then waits for the next run's output (docker start -a)
    const live = await client.containers.attach(Id, { logs: true, stream: true, stderr: false });
    const first = await live.output[Symbol.asyncIterator]().next();
    expect(first.done ? '' : first.value.data.toString()).toBe('out\n');
    live.socket.destroy();
    await client.containers.remove(Id);
  });

  it('attaches with stdin; ending stdin (a write shutdown) lets the process finish and its output arrive', async () => {
    const { Id } = await client.containers.create({
      Image: 'busybox',
      Cmd: ['sh', '-c', 'cat; echo done >&2'],
      OpenStdin: true,
      StdinOnce: true,
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
    });
    const att = await client.containers.attach(Id, { stdin: true });
    expect(att.tty).toBe(false);
    const output = collectOutput(att.output);
    await client.containers.start(Id);
    att.socket.write('hello through stdin\n');
    att.socket.end();
    expect(await output).toEqual({ stdout: 'hello through stdin\n', stderr: 'done\n' });
    expect((await client.containers.wait(Id)).StatusCode).toBe(0);
    await client.containers.remove(Id);
  });

  it('attaches to a TTY container: raw output, stdin through the terminal', async () => {
    const { Id } = await client.containers.create({ Image: 'busybox', Cmd: ['sh'], Tty: true, OpenStdin: true, AttachStdin: true, AttachStdout: true });
    const att = await client.containers.attach(Id, { stdin: true });
    expect(att.tty).toBe(true);
    const output = drain(att.output);
    await client.containers.start(Id);
    att.socket.write('echo via-tty-$((6*7)); exit 5\n');
    const text = Buffer.concat((await output).map((f) => f.data)).toString();
    expect(text).toContain('via-tty-42\r\n');
    expect((await output).every((f) => f.stream === 'stdout')).toBe(true);
    expect((await client.containers.wait(Id)).StatusCode).toBe(5);
    await client.containers.remove(Id);
  });

  it('top, stats, pause/unpause, rename, update, resize, restart, kill, stop on a running container', async () => {
    const { Id } = await client.containers.create({ Image: 'busybox', Cmd: ['sleep', '300'], Tty: true }, { name: name('long') });
    await client.containers.start(Id);
    expect(await client.containers.start(Id)).toBe(false); // already started: 304

    const top = await client.containers.top(Id);
    expect(top.Titles).toContain('CMD');
    expect(top.Processes.some((p) => p.join(' ').includes('sleep 300'))).toBe(true);

    const s = await client.containers.stats(Id);
    expect(s.pids_stats.current).toBeGreaterThanOrEqual(1);
    expect(s.memory_stats.usage).toBeGreaterThan(0);
    const ac = new AbortController();
    let samples = 0;
    for await (const sample of client.containers.statsStream(Id, { signal: ac.signal })) {
      expect(sample.cpu_stats.cpu_usage.total_usage).toBeGreaterThan(0);
      if (++samples === 2) break;
    }
    ac.abort();

    await client.containers.pause(Id);
    expect((await client.containers.inspect(Id)).State).toMatchObject({ Status: 'paused', Paused: true });
    await expect(client.containers.pause(Id)).rejects.toBeInstanceOf(ConflictError);
    await client.containers.unpause(Id);

    await client.containers.rename(Id, name('renamed'));
    expect((await client.containers.inspect(name('renamed'))).Id).toBe(Id);

    const upd = await client.containers.update(Id, { Memory: 64 * 1024 * 1024, MemorySwap: -1, RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 2 } });
    expect(upd.Warnings).toEqual([]);
    const after = await client.containers.inspect(Id);
    expect(after.HostConfig.Memory).toBe(64 * 1024 * 1024);
    expect(after.HostConfig.RestartPolicy).toEqual({ Name: 'on-failure', MaximumRetryCount: 2 });

    await client.containers.resize(Id, { h: 40, w: 100 });

    const pid = (await client.containers.inspect(Id)).State.Pid;
    await client.containers.restart(Id, { t: 0 });
    const restarted = await client.containers.inspect(Id);
    expect(restarted.State.Running).toBe(true);
    expect(restarted.State.Pid).not.toBe(pid);

    await client.containers.kill(Id, { signalName: 'SIGKILL' });
    expect((await client.containers.wait(Id)).StatusCode).toBe(137);
    expect(await client.containers.stop(Id)).toBe(false); // not running: 304
    await expect(client.containers.kill(Id)).rejects.toBeInstanceOf(ConflictError);
    await client.containers.remove(Id);
  });

  it('removing a running container without force is a ConflictError; with force it goes', async () => {
    const { Id } = await client.containers.create({ Image: 'busybox', Cmd: ['sleep', '300'] });
    await client.containers.start(Id);
    const err = await client.containers.remove(Id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect((err as ConflictError).statusCode).toBe(409);
    await client.containers.stop(Id, { t: 0 });
    await client.containers.remove(Id, { force: true });
  });

  it('copies files in and out (archive put/head/get), lists changes and exports', async () => {
    const { Id } = await client.containers.create({ Image: 'busybox', Cmd: ['sh', '-c', 'echo made > /made.txt'] });
    await client.containers.start(Id);
    await client.containers.wait(Id);

    const src = fs.mkdtempSync(join(h.dir, 'client-cp-'));
    fs.writeFileSync(join(src, 'hello.txt'), 'hello from the host\n');
    await client.containers.putArchive(Id, '/tmp', tarOf(src));

    const stat = await client.containers.statPath(Id, '/tmp/hello.txt');
    expect(stat).toMatchObject({ name: 'hello.txt', size: 20 });
    const got = await client.containers.getArchive(Id, '/tmp/hello.txt');
    expect(got.stat.name).toBe('hello.txt');
    expect(tarNames(await readAll(got.stream))).toEqual(['hello.txt']);
    await expect(client.containers.statPath(Id, '/no/such/path')).rejects.toBeInstanceOf(NotFoundError);

    const changes = await client.containers.changes(Id);
    expect(changes).toEqual(
      expect.arrayContaining([
        { Path: '/made.txt', Kind: 1 },
        { Path: '/tmp/hello.txt', Kind: 1 },
      ]),
    );

    const exported = tarNames(await readAll(await client.containers.export(Id)));
    expect(exported).toEqual(expect.arrayContaining(['made.txt', 'bin/busybox']));
    await client.containers.remove(Id);
  });

  it('prunes stopped containers', async () => {
    const { Id } = await client.containers.create({ Image: 'busybox', Cmd: ['true'], Labels: { prune: name('p') } });
    await client.containers.start(Id);
    await client.containers.wait(Id);
    const pruned = await client.containers.prune({ filters: { label: [`prune=${name('p')}`] } });
    expect(pruned.ContainersDeleted).toEqual([Id]);
    expect(await client.containers.list({ all: true, filters: { id: [Id] } })).toEqual([]);
  });

  it('a wait that is aborted rejects and leaves the container alone', async () => {
    const { Id } = await client.containers.create({ Image: 'busybox', Cmd: ['sleep', '300'] });
    await client.containers.start(Id);
    const ac = new AbortController();
    const waiting = client.containers.wait(Id, { signal: ac.signal });
    ac.abort(new Error('gave up waiting'));
    await expect(waiting).rejects.toThrow('gave up waiting');
    expect((await client.containers.inspect(Id)).State.Running).toBe(true);
    await client.containers.remove(Id, { force: true });
  });
});
