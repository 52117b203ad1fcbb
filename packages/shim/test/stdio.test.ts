import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { ProcessStdio } from '../src/stdio';

/** Everything the process would read from its stdin, up to EOF; what came so far after 5 s without EOF. */
function readAll(fd: number): Promise<{ data: Buffer; eof: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const s = new net.Socket({ fd, readable: true, writable: false });
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ data: Buffer.concat(chunks), eof: false });
    }, 5000);
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => {
      clearTimeout(timer);
      s.destroy();
      resolve({ data: Buffer.concat(chunks), eof: true });
    });
  });
}

describe('ProcessStdio stdin', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shstdio-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('CloseIO right after the client wrote: the process reads every byte, then EOF', async () => {
    const fifo = path.join(dir, 'stdin');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const io = ProcessStdio.pipes({ stdin: fifo, stdout: '', stderr: '', terminal: false });
    const child = io.childFds[0] as number;
    // the client: its own O_RDWR end, written synchronously; the shim has not read any of it yet
    const client = fs.openSync(fifo, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
    const data = Buffer.alloc(40000, 'a');
    expect(fs.writeSync(client, data)).toBe(data.length);
    fs.closeSync(client);
    io.closeStdin();
    const got = await readAll(child);
    expect({ length: got.data.length, eof: got.eof }).toEqual({ length: data.length, eof: true });
    expect(got.data.equals(data)).toBe(true);
    io.close();
  });
});
