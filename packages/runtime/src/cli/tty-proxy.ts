import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tty from 'node:tty';
import { linuxSys } from '@gantry/linux';
import { ConsoleSocket } from '../console-socket';

/**
 * A foreground terminal for `run`/`exec` without --console-socket, as runc gives one: receive the
 * container's pty master on a private console socket, put our terminal in raw mode and copy bytes
 * both ways; window size follows ours.
 */
export class TtyProxy {
  private master: number | undefined;
  private readonly dir: string;
  readonly socketPath: string;
  private readonly socket: ConsoleSocket;
  private received: Promise<void>;
  private restore: (() => void)[] = [];

  constructor() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gantry-tty-'));
    this.socketPath = path.join(this.dir, 'console.sock');
    this.socket = ConsoleSocket.listen(this.socketPath);
    this.received = this.socket.receive().then(({ master }) => {
      this.master = master;
    });
    this.received.catch(() => undefined);
  }

  /** Wait for the master and start copying; resolves when the container side closes. */
  async attach(): Promise<void> {
    await this.received;
    const master = this.master!;
    const input = new tty.ReadStream(master);
    const output = fs.createWriteStream('', { fd: master, autoClose: false });
    const stdin = process.stdin;
    if (stdin.isTTY) {
      stdin.setRawMode(true);
      this.restore.push(() => stdin.setRawMode(false));
    }
    const resize = () => {
      if (process.stdout.isTTY) {
        const [cols, rows] = process.stdout.getWindowSize();
        try {
          linuxSys().setWinsize(master, rows, cols);
        } catch {
          // the pty is gone
        }
      }
    };
    resize();
    process.on('SIGWINCH', resize);
    this.restore.push(() => process.off('SIGWINCH', resize));
    stdin.on('data', (d: Buffer) => output.write(d));
    stdin.resume();
    this.restore.push(() => stdin.pause());
    await new Promise<void>((resolve) => {
      input.on('data', (d: Buffer) => process.stdout.write(d));
      // EIO on read is how a pty says its other side is closed
      input.on('error', () => resolve());
      input.on('end', () => resolve());
      input.on('close', () => resolve());
    });
  }

  close(): void {
    for (const r of this.restore.reverse()) r();
    this.restore = [];
    this.socket.close();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
