/** A runtime for the server tests: commands that exercise each stream, and port-forward to loopback. */
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import type { ExecStreams, StreamingRuntime, TerminalSize } from '../src';

export interface Call {
  kind: string;
  id: string;
  cmd?: string[];
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
}

export class FakeRuntime implements StreamingRuntime {
  readonly calls: Call[] = [];
  readonly sizes: TerminalSize[] = [];

  private record(kind: string, id: string, io: ExecStreams, cmd?: string[]): void {
    this.calls.push({ kind, id, cmd, tty: io.tty, stdin: !!io.stdin, stdout: !!io.stdout, stderr: !!io.stderr });
  }

  async exec(id: string, cmd: string[], io: ExecStreams): Promise<number> {
    this.record('exec', id, io, cmd);
    switch (cmd[0]) {
      case 'echo':
        io.stdout?.write(`${cmd.slice(1).join(' ')}\n`);
        return 0;
      case 'fail':
        io.stdout?.write('some output\n');
        io.stderr?.write('it failed\n');
        return Number(cmd[1]);
      case 'cat': {
        let n = 0;
        for await (const c of io.stdin ?? []) {
          n += (c as Buffer).length;
          io.stdout?.write(c);
        }
        io.stderr?.write(`read ${n} bytes\n`);
        return 0;
      }
      case 'sizes': {
        // The resize stream lasts as long as the session: take the sizes asked for.
        for await (const s of io.resize ?? []) if (this.sizes.push(s) >= Number(cmd[1])) break;
        io.stdout?.write(JSON.stringify(this.sizes));
        return 0;
      }
      case 'read': {
        let got = Buffer.alloc(0);
        for await (const c of io.stdin ?? []) {
          got = Buffer.concat([got, c as Buffer]);
          if (got.length >= Number(cmd[1])) break;
        }
        io.stdout?.write(got.toString().toUpperCase());
        return 0;
      }
      case 'big': {
        const chunk = Buffer.alloc(64 << 10, 'x');
        for (let i = 0; i < Number(cmd[1]); i++) if (!io.stdout!.write(chunk)) await new Promise((r) => io.stdout!.once('drain', r));
        return 0;
      }
      default:
        throw new Error(`executable file not found: ${cmd[0]}`);
    }
  }

  async attach(id: string, io: ExecStreams): Promise<void> {
    this.record('attach', id, io);
    io.stdout?.write('attached\n');
    for await (const c of io.stdin ?? []) io.stdout?.write(Buffer.from(String(c).toUpperCase()));
  }

  async portForward(_pod: string, port: number, stream: Duplex): Promise<void> {
    const sock = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', reject);
    });
    stream.pipe(sock);
    sock.pipe(stream);
    await new Promise((r) => sock.once('close', r));
  }
}

/** A loopback TCP server that answers each byte upper-cased and ends when the client does. */
export async function upperCaseServer(): Promise<{ port: number; close: () => Promise<void> }> {
  const srv = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('data', (d: Buffer) => s.write(d.toString().toUpperCase()));
    s.on('end', () => s.end());
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { port: (srv.address() as net.AddressInfo).port, close: () => new Promise((r) => srv.close(() => r())) };
}
