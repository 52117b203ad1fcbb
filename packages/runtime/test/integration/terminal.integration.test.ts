/**
 * A terminal session through --console-socket: the runtime's init stage creates the pty inside the
 * container and sends the master to our ConsoleSocket (SCM_RIGHTS); we drive the shell through it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as tty from 'node:tty';
import { ConsoleSocket } from '../../src/console-socket';
import { CLI, describeRoot, useHarness, waitFor, type Harness } from './helpers';

/** The pty master as a stream; collects everything until EIO (the slave side is gone). */
class PtySession {
  out = '';
  ended = false;
  endError: NodeJS.ErrnoException | undefined;
  private readonly stream: tty.ReadStream;
  constructor(readonly master: number) {
    this.stream = new tty.ReadStream(master);
    this.stream.on('data', (d: Buffer) => (this.out += d.toString('utf8')));
    this.stream.on('error', (e: NodeJS.ErrnoException) => {
      // Linux reports EIO on a pty master once every slave fd is closed: the normal end.
      this.endError = e;
      this.ended = true;
    });
    this.stream.on('end', () => (this.ended = true));
    this.stream.on('close', () => (this.ended = true));
  }
  write(text: string): void {
    fs.writeSync(this.master, text);
  }
  close(): void {
    this.stream.destroy();
  }
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

/** Receive the master, or give up after `ms` (unblocking the pending accept by connecting ourselves). */
async function receiveWithin(sock: ConsoleSocket, ms: number): Promise<{ master: number; name: string }> {
  const pending = sock.receive();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const c = net.connect(sock.path, () => c.destroy());
      c.on('error', () => undefined);
      reject(new Error(`no console master received within ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([pending, timeout]);
  } finally {
    clearTimeout(timer);
    pending.catch(() => undefined);
  }
}

function startCli(h: Harness, args: string[]): { child: ChildProcess; stderr: () => string } {
  const child = spawn(process.execPath, [CLI, '--root', h.root, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout!.on('data', (d: Buffer) => (err += d.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  child.once('exit', () => clearTimeout(killer));
  return { child, stderr: () => err };
}

describeRoot('terminal (root integration)', () => {
  const H = useHarness('tty');
  let sock: ConsoleSocket | undefined;
  let session: PtySession | undefined;
  let cli: ChildProcess | undefined;

  afterEach(async () => {
    session?.close();
    session = undefined;
    sock?.close();
    sock = undefined;
    if (cli && cli.exitCode === null && cli.signalCode === null) {
      cli.kill('SIGKILL');
      await exitOf(cli);
    }
    cli = undefined;
  });

  const terminalBundle = (h: Harness): string =>
    h.bundleFor(['sh'], (c) => {
      c.process.terminal = true;
      c.process.consoleSize = { height: 40, width: 132 };
    });

  it('run -d --console-socket: a shell on /dev/pts/0, driven through the received master', async () => {
    const h = H();
    const id = h.id('tty');
    sock = ConsoleSocket.listen(path.join(h.tmp, `${id}.sock`));
    const run = startCli(h, ['run', '-d', '--console-socket', sock.path, '-b', terminalBundle(h), id]);
    cli = run.child;
    const { master, name } = await receiveWithin(sock, 10_000);
    expect(name).toBe('/dev/pts/0');
    expect(await exitOf(run.child)).toBe(0);
    expect(run.stderr()).toBe('');
    expect(h.state(id).status).toBe('running');

    session = new PtySession(master);
    session.write('tty; stty size; exit 3\n');
    await waitFor('the shell to exit (EIO on the master)', () => session!.ended, 10_000);
    expect(session.endError?.code ?? 'EIO').toBe('EIO');
    const lines = session.out.split(/\r?\n/);
    expect(lines).toContain('/dev/pts/0');
    expect(lines).toContain('40 132');
    await waitFor('the container to stop', () => h.state(id).status === 'stopped', 5000);
  });

  it('run (foreground) --console-socket returns the shell exit status', async () => {
    const h = H();
    const id = h.id('ttyfg');
    sock = ConsoleSocket.listen(path.join(h.tmp, `${id}.sock`));
    const run = startCli(h, ['run', '--console-socket', sock.path, '-b', terminalBundle(h), id]);
    cli = run.child;
    const { master } = await receiveWithin(sock, 10_000);
    session = new PtySession(master);
    session.write('tty; exit 3\n');
    expect(await exitOf(run.child)).toBe(3);
    await waitFor('EIO on the master', () => session!.ended, 5000);
    expect(session.out.split(/\r?\n/)).toContain('/dev/pts/0');
    // run (without --keep) deleted the container
    expect(fs.existsSync(h.stateDir(id))).toBe(false);
  });

  it('exec -t --console-socket gets its own pty in the container', async () => {
    const h = H();
    const id = h.id('ttyexec');
    h.runDetached(id, h.bundleFor(['sleep', '300']));
    sock = ConsoleSocket.listen(path.join(h.tmp, `${id}.sock`));
    // /dev/tty opens only for a process with a controlling terminal: the pty is the program's own
    const ex = startCli(h, ['exec', '-t', '--console-socket', sock.path, id, 'sh', '-c', 'tty; : </dev/tty && [ -t 1 ] && [ -t 2 ] && echo ctty-ok; exit 4']);
    cli = ex.child;
    const { master, name } = await receiveWithin(sock, 10_000);
    expect(name).toMatch(/^\/dev\/pts\/\d+$/);
    session = new PtySession(master);
    expect(await exitOf(ex.child)).toBe(4);
    await waitFor('EIO on the master', () => session!.ended, 5000);
    expect(session.out.split(/\r?\n/)).toContain(name);
    expect(session.out.split(/\r?\n/)).toContain('ctty-ok');
  });

  it('a terminal without --console-socket is refused at create, leaving nothing behind', () => {
    const h = H();
    const id = h.id('nosock');
    const r = h.cli(['create', '-b', terminalBundle(h), id]);
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/console-socket/);
    expect(fs.existsSync(h.stateDir(id))).toBe(false);
  });
});
