import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { FakeSys, S_IF } from '@gantry/linux';
import { JsonFileWriter, readLogs, type LogMessage } from '../src/logs/json-file';
import { DEFAULT_DETACH_KEYS, DetachKeyDetector, DetachKeysError, HOLD_LIMIT, parseDetachKeys, serveAttach, type AttachEnd } from '../src/streams/attach';
import { ContainerIO, createFifos, fifoPaths, removeFifos, type OutputChunk, type StdioFifos } from '../src/streams/fifo-stdio';
import { Demuxer, frame, StdStream } from '../src/streams/stdcopy';
import { itIf, needRoot, waitFor } from '@gantry/testkit';

const itRoot = itIf(needRoot('real FIFOs'));

let dir: string;
beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cio-'))));
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** waitFor's options here: the conditions are this process's own I/O, so poll often; 3 s is an upper bound. */
const soon = (timeoutMs = 3000) => ({ timeoutMs, stepMs: 5 });

/** The shim's ends of the FIFOs, as gantry-shim holds them: O_RDWR, non-blocking. */
class FakeShim {
  readonly fds: number[] = [];
  constructor(readonly fifos: StdioFifos) {}
  private fd(p: string): number {
    const fd = fs.openSync(p, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
    this.fds.push(fd);
    return fd;
  }
  out = new Map<string, number>();
  openAll(): this {
    for (const s of ['stdin', 'stdout', 'stderr'] as const) if (this.fifos[s]) this.out.set(s, this.fd(this.fifos[s]));
    return this;
  }
  write(s: 'stdout' | 'stderr', data: string | Buffer): void {
    fs.writeSync(this.out.get(s)!, typeof data === 'string' ? Buffer.from(data) : data);
  }
  /** What reached stdin so far. */
  readStdin(): string {
    const buf = Buffer.alloc(65536);
    try {
      const n = fs.readSync(this.out.get('stdin')!, buf, 0, buf.length, null);
      return buf.subarray(0, n).toString();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') return '';
      throw e;
    }
  }
  close(): void {
    for (const fd of this.fds.splice(0)) fs.closeSync(fd);
  }
}

describe('FIFO creation', () => {
  it('makes FIFOs through the seam (mknod S_IFIFO|0600), none for streams not wanted', () => {
    const sys = new FakeSys();
    const f = createFifos(path.join(dir, 'c1'), 'init', { stdin: false, stdout: true, stderr: true }, sys);
    expect(f).toEqual({ stdin: '', stdout: path.join(dir, 'c1', 'init-stdout'), stderr: path.join(dir, 'c1', 'init-stderr') });
    const mknods = sys.callsOf('mknod');
    expect(mknods).toEqual([
      [f.stdout, S_IF.FIFO | 0o600, 0, 0],
      [f.stderr, S_IF.FIFO | 0o600, 0, 0],
    ]);
    expect(fifoPaths(dir, 'e1', { stdin: true, stdout: true, stderr: false }).stderr).toBe('');
  });

  itRoot('makes real FIFOs and reuses them, refusing other files', () => {
    const f = createFifos(dir, 'init', { stdin: true, stdout: true, stderr: true });
    for (const p of [f.stdin, f.stdout, f.stderr]) expect(fs.statSync(p).isFIFO()).toBe(true);
    expect(fs.statSync(f.stdout).mode & 0o777).toBe(0o600);
    expect(createFifos(dir, 'init', { stdin: true, stdout: true, stderr: true })).toEqual(f);
    fs.writeFileSync(path.join(dir, 'x-stdout'), '');
    expect(() => createFifos(dir, 'x', { stdin: false, stdout: true, stderr: false })).toThrow(/not a FIFO/);
    removeFifos(f);
    expect(fs.existsSync(f.stdout)).toBe(false);
  });
});

describe('ContainerIO (real FIFOs)', () => {
  itRoot('logs the output and fans it out to subscribers; ends when the shim closes its ends', async () => {
    const fifos = createFifos(path.join(dir, 'run'), 'init', { stdin: false, stdout: true, stderr: true });
    const logPath = path.join(dir, 'c1-json.log');
    const log = new JsonFileWriter(logPath);
    const io = ContainerIO.open(fifos, { terminal: false, log });
    const got: OutputChunk[] = [];
    const sub = io.subscribe((c) => void got.push(c));
    const shim = new FakeShim(fifos).openAll();
    io.ready();
    shim.write('stdout', 'hello\nwor');
    shim.write('stderr', 'oops\n');
    await waitFor('two chunks', () => got.length >= 2, soon());
    shim.write('stdout', 'ld\n');
    await waitFor(
      'both stdout lines',
      () => Buffer.concat(got.filter((c) => c.stream === 'stdout').map((c) => c.data)).toString() === 'hello\nworld\n',
      soon(),
    );
    expect(Buffer.concat(got.filter((c) => c.stream === 'stderr').map((c) => c.data)).toString()).toBe('oops\n');
    sub.unsubscribe();
    shim.write('stdout', 'tail without newline');
    expect(io.isEnded).toBe(false);
    shim.close(); // task deleted: EOF
    await io.ended;
    log.close();
    const msgs: LogMessage[] = [];
    for await (const m of readLogs(logPath, { stdout: true, stderr: true, follow: false, tail: 'all', timestamps: false })) msgs.push(m);
    expect(msgs.map((m) => `${m.stream}:${m.line.toString()}`).sort()).toEqual([
      'stderr:oops\n',
      'stdout:hello\n',
      'stdout:tail without newline',
      'stdout:world\n',
    ]);
  });

  itRoot('does not see EOF before the shim opened its ends (keep-alive until ready)', async () => {
    const fifos = createFifos(dir, 'init', { stdin: false, stdout: true, stderr: false });
    const io = ContainerIO.open(fifos, { terminal: true });
    await sleep(50);
    expect(io.isEnded).toBe(false);
    const shim = new FakeShim(fifos).openAll();
    const got: string[] = [];
    io.subscribe((c) => void got.push(c.data.toString()));
    io.ready();
    shim.write('stdout', 'tty output\r\n');
    await waitFor('the tty output', () => got.join('') === 'tty output\r\n', soon());
    shim.close();
    await io.ended;
  });

  itRoot('close() gives up after its timeout when the shim keeps its ends', async () => {
    const fifos = createFifos(dir, 'init', { stdin: false, stdout: true, stderr: true });
    const io = ContainerIO.open(fifos, { terminal: false });
    const shim = new FakeShim(fifos).openAll();
    const t = Date.now();
    await io.close(100);
    expect(Date.now() - t).toBeGreaterThanOrEqual(90);
    expect(io.isEnded).toBe(true);
    shim.close();
  });

  itRoot('writes stdin and closes our end', async () => {
    const fifos = createFifos(dir, 'init', { stdin: true, stdout: true, stderr: true });
    const shim = new FakeShim(fifos).openAll();
    const io = ContainerIO.open(fifos, { terminal: false, shimHasEnds: true });
    expect(io.hasStdin).toBe(true);
    expect(io.writeStdin(Buffer.from('input\n'))).toBe(true);
    let seen = '';
    await waitFor('the input at the shim', () => (seen += shim.readStdin()) === 'input\n', soon());
    await io.closeStdin();
    expect(io.hasStdin).toBe(false);
    expect(io.writeStdin(Buffer.from('dropped'))).toBe(true);
    await sleep(20);
    expect(shim.readStdin()).toBe('');
    shim.close();
    await io.ended;
  });

  itRoot('live-restore: re-opens the FIFOs after gantryd went away and reads what was written meanwhile', async () => {
    const fifos = createFifos(dir, 'init', { stdin: false, stdout: true, stderr: true });
    const logPath = path.join(dir, 'log.json');
    const log1 = new JsonFileWriter(logPath);
    const io1 = ContainerIO.open(fifos, { terminal: false, log: log1 });
    const shim = new FakeShim(fifos).openAll();
    io1.ready();
    shim.write('stdout', 'before\n');
    await waitFor('the first line in the log', () => fs.readFileSync(logPath, 'utf8').includes('before'), soon());
    io1.destroy(); // gantryd stops; the shim keeps the FIFOs open
    log1.close();
    shim.write('stdout', 'while down\n');
    const log = new JsonFileWriter(logPath);
    const io2 = ContainerIO.open(fifos, { terminal: false, log, shimHasEnds: true });
    shim.write('stderr', 'after\n');
    await waitFor('the second line in the log', () => fs.readFileSync(logPath, 'utf8').includes('after'), soon());
    shim.close();
    await io2.ended;
    log.close();
    expect(
      fs
        .readFileSync(logPath, 'utf8')
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { log: string }).log),
    ).toEqual(['before\n', 'while down\n', 'after\n']);
  });

  itRoot('a slow subscriber holds the output back until it resumes', async () => {
    const fifos = createFifos(dir, 'init', { stdin: false, stdout: true, stderr: false });
    const io = ContainerIO.open(fifos, { terminal: true });
    const shim = new FakeShim(fifos).openAll();
    io.ready();
    const got: string[] = [];
    const sub = io.subscribe((c) => {
      got.push(c.data.toString());
      return false;
    });
    shim.write('stdout', 'one');
    await waitFor('the first chunk', () => got.length === 1, soon());
    shim.write('stdout', 'two');
    await sleep(50);
    expect(got).toEqual(['one']);
    sub.resume();
    await waitFor('the second chunk', () => got.length === 2, soon());
    expect(got[1]).toBe('two');
    shim.close();
    await io.ended;
  });
});

describe('detach keys', () => {
  it("parses Docker's detachKeys syntax", () => {
    expect(parseDetachKeys('ctrl-p,ctrl-q')).toEqual(DEFAULT_DETACH_KEYS);
    expect([...parseDetachKeys('a,ctrl-x')]).toEqual([0x61, 0x18]);
    expect([...parseDetachKeys('ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_')]).toEqual([0, 27, 28, 29, 30, 31]);
    expect([...parseDetachKeys('ctrl-A,~')]).toEqual([1, 0x7e]);
    for (const bad of ['ctrl-', 'ctrl-1', 'ab', 'ctrl-ab', '', 'a,,b', 'é']) expect(() => parseDetachKeys(bad)).toThrow(DetachKeysError);
  });

  it('detects the sequence across chunk boundaries and passes broken prefixes on', () => {
    const d = new DetachKeyDetector(DEFAULT_DETACH_KEYS);
    expect(d.push(Buffer.from('ls\x10'))).toEqual({ forward: Buffer.from('ls'), detached: false });
    expect(d.push(Buffer.from('x'))).toEqual({ forward: Buffer.from('\x10x'), detached: false });
    expect(d.push(Buffer.from('\x10'))).toEqual({ forward: Buffer.alloc(0), detached: false });
    expect(d.push(Buffer.from('\x11ignored'))).toEqual({ forward: Buffer.alloc(0), detached: true });
    // a repeated first key: "a,a,b" within "aaab"
    const d2 = new DetachKeyDetector(parseDetachKeys('a,a,b'));
    expect(d2.push(Buffer.from('xaa'))).toEqual({ forward: Buffer.from('x'), detached: false });
    expect(d2.push(Buffer.from('a'))).toEqual({ forward: Buffer.from('a'), detached: false });
    expect(d2.push(Buffer.from('b'))).toEqual({ forward: Buffer.alloc(0), detached: true });
    const d3 = new DetachKeyDetector(DEFAULT_DETACH_KEYS);
    d3.push(Buffer.from('\x10'));
    expect(d3.flush()).toEqual(Buffer.from('\x10'));
  });
});

describe('serveAttach (real FIFOs, a unix socket as the hijacked connection)', () => {
  /** A connected pair: [server side (what ctx.hijack returns), client side]. */
  async function connPair(): Promise<[net.Socket, net.Socket, () => void]> {
    const sock = path.join(dir, 'api.sock');
    const server = net.createServer({ allowHalfOpen: true });
    await new Promise<void>((r) => server.listen(sock, r));
    const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
    const client = net.connect({ path: sock, allowHalfOpen: true });
    const srv = await accepted;
    return [srv, client, () => server.close()];
  }

  itRoot('non-TTY: replays the log, frames live output, forwards input, ends with the output', async () => {
    const fifos = createFifos(dir, 'init', { stdin: true, stdout: true, stderr: true });
    const logPath = path.join(dir, 'log.json');
    const log = new JsonFileWriter(logPath);
    log.write('stdout', Buffer.from('old line\n'));
    const io = ContainerIO.open(fifos, { terminal: false, log });
    const shim = new FakeShim(fifos).openAll();
    io.ready();
    const [srv, client, stop] = await connPair();
    const result = serveAttach(srv, io, {
      stdin: true,
      stdout: true,
      stderr: true,
      tty: false,
      stream: true,
      replay: () => readLogs(logPath, { stdout: true, stderr: true, follow: false, tail: 'all', timestamps: false }),
    });
    const demux = new Demuxer();
    const frames: string[] = [];
    client.on('data', (b: Buffer) => frames.push(...demux.push(b).map((f) => `${f.stream}:${f.data.toString()}`)));
    await waitFor('one frame', () => frames.length === 1, soon());
    expect(frames).toEqual(['1:old line\n']);
    shim.write('stderr', 'err\n');
    await waitFor('two frames', () => frames.length === 2, soon());
    shim.write('stdout', 'out\n');
    await waitFor('three frames', () => frames.length === 3, soon());
    expect(frames.slice(1)).toEqual(['2:err\n', '1:out\n']);
    client.write('typed\n');
    let seen = '';
    await waitFor('the typed line at the shim', () => (seen += shim.readStdin()) === 'typed\n', soon());
    const clientEnded = new Promise((r) => client.once('end', r));
    shim.close();
    expect(await result).toBe<AttachEnd>('ended');
    await clientEnded;
    client.destroy();
    stop();
    log.close();
  });

  itRoot('a slow log replay holds live output only up to HOLD_LIMIT, then the output waits at the source; nothing is lost', async () => {
    const fifos = createFifos(dir, 'init', { stdin: false, stdout: true, stderr: false });
    const io = ContainerIO.open(fifos, { terminal: true });
    const shim = new FakeShim(fifos).openAll();
    io.ready();
    const [srv, client, stop] = await connPair();
    let release!: () => void;
    const replayed = new Promise<void>((r) => (release = r));
    async function* replay(): AsyncGenerator<LogMessage> {
      yield { stream: 'stdout', line: Buffer.from('old\n'), time: new Date() } as LogMessage;
      await replayed; // the replay is still reading the log file
    }
    const result = serveAttach(srv, io, { stdin: false, stdout: true, stderr: false, tty: true, stream: true, replay });
    const received: Buffer[] = [];
    client.on('data', (b: Buffer) => received.push(b));
    // The container writes as fast as the pipe takes it, letting the event loop run between
    // writes. Were the held output unbounded, all 8 MiB would go in; bounded, the pipe fills once
    // gantryd stops reading, and stays full (many turns of the event loop without room).
    const fd = shim.out.get('stdout')!;
    const sent: Buffer[] = [];
    let total = 0;
    for (let i = 0, full = 0; total < 8 << 20 && full < 500; i++) {
      const block = Buffer.alloc(65536, 97 + (i % 26));
      let n = 0;
      try {
        n = fs.writeSync(fd, block);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      }
      full = n === 0 ? full + 1 : 0;
      if (n > 0) {
        sent.push(block.subarray(0, n));
        total += n;
      }
      await new Promise((r) => setImmediate(r));
    }
    expect(total).toBeGreaterThanOrEqual(HOLD_LIMIT);
    expect(total).toBeLessThan(4 << 20);
    release();
    const want = Buffer.concat([Buffer.from('old\n'), ...sent]);
    await waitFor('everything written before', () => received.reduce((a, b) => a + b.length, 0) >= want.length, soon(20000));
    expect(Buffer.concat(received).equals(want)).toBe(true);
    // and the output flows again
    shim.write('stdout', 'after\n');
    await waitFor('the line written after', () => Buffer.concat(received).subarray(want.length).toString() === 'after\n', soon());
    shim.close();
    expect(await result).toBe<AttachEnd>('ended');
    client.destroy();
    stop();
  });

  itRoot('TTY: raw output, and detach keys split across writes end the attach but not the output', async () => {
    const fifos = createFifos(dir, 'init', { stdin: true, stdout: true, stderr: false });
    const io = ContainerIO.open(fifos, { terminal: true });
    const shim = new FakeShim(fifos).openAll();
    io.ready();
    const [srv, client, stop] = await connPair();
    const result = serveAttach(srv, io, { stdin: true, stdout: true, stderr: true, tty: true, stream: true, detachKeys: 'ctrl-x,q' });
    let out = '';
    client.on('data', (b: Buffer) => (out += b.toString()));
    shim.write('stdout', '$ ');
    await waitFor('the prompt', () => out === '$ ', soon());
    client.write('echo hi\x18');
    let seen = '';
    await waitFor('the typed command at the shim', () => (seen += shim.readStdin()) === 'echo hi', soon());
    client.write('q');
    expect(await result).toBe<AttachEnd>('detached');
    expect(io.isEnded).toBe(false);
    shim.write('stdout', 'still running');
    await sleep(20);
    expect(out).toBe('$ ');
    client.destroy();
    stop();
    shim.close();
    await io.ended;
  });

  itRoot('StdinOnce without a TTY: the client closing its input closes stdin, output goes on', async () => {
    const fifos = createFifos(dir, 'init', { stdin: true, stdout: true, stderr: true });
    const io = ContainerIO.open(fifos, { terminal: false });
    const shim = new FakeShim(fifos).openAll();
    io.ready();
    const [srv, client, stop] = await connPair();
    const result = serveAttach(srv, io, { stdin: true, stdout: true, stderr: false, tty: false, stream: true, stdinOnce: true });
    const demux = new Demuxer();
    const frames: string[] = [];
    client.on('data', (b: Buffer) => frames.push(...demux.push(b).map((f) => `${f.stream}:${f.data.toString()}`)));
    client.end('data then EOF');
    await waitFor('stdin closed', () => !io.hasStdin, soon());
    shim.write('stderr', 'not wanted\n');
    shim.write('stdout', 'bye\n');
    await waitFor('one frame', () => frames.length === 1, soon());
    expect(frames).toEqual(['1:bye\n']);
    shim.close();
    expect(await result).toBe<AttachEnd>('ended');
    client.destroy();
    stop();
  });

  itRoot('input sent and closed before the shim opened the FIFO is kept until it has (docker run -i)', async () => {
    const fifos = createFifos(dir, 'init', { stdin: true, stdout: true, stderr: true });
    const io = ContainerIO.open(fifos, { terminal: false });
    const [srv, client, stop] = await connPair();
    const closed: string[] = [];
    const result = serveAttach(srv, io, {
      stdin: true,
      stdout: true,
      stderr: true,
      tty: false,
      stream: true,
      stdinOnce: true,
      onStdinClosed: () => void closed.push('closeio'),
    });
    client.end('early input\n');
    await sleep(100);
    // the task does not exist yet: our end must stay open (a FIFO with no fd open drops its data) and no CloseIO yet
    expect(closed).toEqual([]);
    const shim = new FakeShim(fifos).openAll();
    io.ready();
    await waitFor('the close', () => closed.length === 1, soon());
    expect(shim.readStdin()).toBe('early input\n');
    shim.close();
    expect(await result).toBe<AttachEnd>('ended');
    client.destroy();
    stop();
  });

  itRoot('reads input from a socket left explicitly paused, and from one whose input already ended', async () => {
    for (const alreadyEnded of [false, true]) {
      const fifos = createFifos(dir, `p${alreadyEnded}`, { stdin: true, stdout: true, stderr: true });
      const io = ContainerIO.open(fifos, { terminal: false });
      const shim = new FakeShim(fifos).openAll();
      io.ready();
      const [srv, client, stop] = await connPair();
      const closed: string[] = [];
      if (alreadyEnded) {
        // the client sent nothing and half-closed; the server saw the end before attaching
        client.end();
        srv.resume();
        await new Promise((r) => srv.once('end', r));
      } else srv.pause(); // as the upgrade handler leaves it after reading a body off the socket
      const result = serveAttach(srv, io, {
        stdin: true,
        stdout: true,
        stderr: true,
        tty: false,
        stream: true,
        stdinOnce: true,
        onStdinClosed: () => void closed.push('closeio'),
      });
      if (!alreadyEnded) client.end('typed\n');
      await waitFor('the close', () => closed.length === 1, soon());
      expect(shim.readStdin()).toBe(alreadyEnded ? '' : 'typed\n');
      shim.close();
      expect(await result).toBe<AttachEnd>('ended');
      client.destroy();
      stop();
    }
  });

  it('logs only (stream=0): sends the replay and ends', async () => {
    const io = ContainerIO.open({ stdin: '', stdout: '', stderr: '' }, { terminal: false });
    const [srv, client, stop] = await connPair();
    const chunks: Buffer[] = [];
    client.on('data', (b: Buffer) => chunks.push(b));
    const ended = new Promise((r) => client.once('end', r));
    async function* replay(): AsyncGenerator<{ stream: 'stdout' | 'stderr'; line: Buffer }> {
      yield { stream: 'stdout', line: Buffer.from('a\n') };
      yield { stream: 'stderr', line: Buffer.from('b\n') };
    }
    expect(await serveAttach(srv, io, { stdin: false, stdout: true, stderr: true, tty: false, stream: false, replay })).toBe('ended');
    await ended;
    expect(Buffer.concat(chunks)).toEqual(Buffer.concat([frame(StdStream.Stdout, 'a\n'), frame(StdStream.Stderr, 'b\n')]));
    client.destroy();
    stop();
  });
});
