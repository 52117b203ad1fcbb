/** Stream results shared by the endpoint groups. */
import type { Socket } from 'node:net';
import { demultiplex, rawFrames, type OutputFrame } from './stdcopy';

const RAW = 'application/vnd.docker.raw-stream';

/** A hijacked attach or exec connection. */
export interface HijackedStream {
  /**
   * The connection: write to send stdin; `end()` closes stdin (a write shutdown: the output keeps
   * coming until the process ends); `destroy()` drops the connection.
   */
  socket: Socket;
  /** Whether the output is a TTY's raw bytes (else it was multiplexed). */
  tty: boolean;
  /** The process's output, demultiplexed (or all stdout for a TTY). */
  output: AsyncIterable<OutputFrame>;
}

/** Whether an answer's Content-Type says raw (TTY) bytes. */
export function isRaw(contentType: string | undefined): boolean {
  return (contentType ?? '').startsWith(RAW);
}

export function hijacked(socket: Socket, contentType: string, ttyHint?: boolean): HijackedStream {
  const tty = contentType === '' ? ttyHint === true : isRaw(contentType);
  return { socket, tty, output: tty ? rawFrames(socket) : demultiplex(socket) };
}
