/**
 * Docker's multiplexed stream ("application/vnd.docker.multiplexed-stream") as frames: an 8-byte
 * header [stream, 0, 0, 0, size uint32 big-endian] then `size` bytes. A TTY's output is raw
 * ("application/vnd.docker.raw-stream"): all of it is stdout.
 */

export type StreamName = 'stdin' | 'stdout' | 'stderr';

export interface OutputFrame {
  stream: StreamName;
  data: Buffer;
}

const NAMES: Record<number, StreamName | 'system'> = { 0: 'stdin', 1: 'stdout', 2: 'stderr', 3: 'system' };
const HEADER = 8;

export class StreamFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StreamFormatError';
  }
}

/**
 * Frames of a multiplexed byte stream, whatever the chunking. Stream 3 carries an error of the
 * daemon's and is thrown; a stream that ends inside a frame is an error too.
 */
export async function* demultiplex(chunks: AsyncIterable<Buffer | string>): AsyncGenerator<OutputFrame> {
  let buf = Buffer.alloc(0);
  for await (const chunk of chunks) {
    buf = buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([buf, Buffer.from(chunk)]);
    while (buf.length >= HEADER) {
      const kind = NAMES[buf[0]!];
      if (kind === undefined) throw new StreamFormatError(`unknown stream ${buf[0]} in multiplexed output`);
      const size = buf.readUInt32BE(4);
      if (buf.length < HEADER + size) break;
      const data = buf.subarray(HEADER, HEADER + size);
      buf = buf.subarray(HEADER + size);
      if (kind === 'system') throw new StreamFormatError(data.toString('utf8'));
      yield { stream: kind, data: Buffer.from(data) };
    }
  }
  if (buf.length > 0) throw new StreamFormatError(`multiplexed output ended inside a frame (${buf.length} bytes left)`);
}

/** A TTY's raw output as stdout frames. */
export async function* rawFrames(chunks: AsyncIterable<Buffer | string>): AsyncGenerator<OutputFrame> {
  for await (const chunk of chunks) yield { stream: 'stdout', data: Buffer.from(chunk) };
}

/** Collect frames into one stdout and one stderr string. */
export async function collectOutput(frames: AsyncIterable<OutputFrame>): Promise<{ stdout: string; stderr: string }> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  for await (const f of frames) (f.stream === 'stderr' ? err : out).push(f.data);
  return { stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}
