import { collectOutput, demultiplex, rawFrames, StreamFormatError } from '../src/stdcopy';

function frame(stream: number, text: string): Buffer {
  const payload = Buffer.from(text);
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(payload.length, 4);
  return Buffer.concat([h, payload]);
}

async function* chunks(buf: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('demultiplex', () => {
  const wire = Buffer.concat([frame(1, 'hello\n'), frame(2, 'oops\n'), frame(1, ''), frame(1, 'x'.repeat(70000))]);

  it.each([1, 3, 7, 8, 9, 64, 65536, wire.length])('splits frames whatever the chunk size (%d bytes)', async (size) => {
    const frames = await all(demultiplex(chunks(wire, size)));
    expect(frames.map((f) => [f.stream, f.data.length])).toEqual([
      ['stdout', 6],
      ['stderr', 5],
      ['stdout', 0],
      ['stdout', 70000],
    ]);
    expect(frames[0]!.data.toString()).toBe('hello\n');
  });

  it('collects stdout and stderr apart', async () => {
    expect(await collectOutput(demultiplex(chunks(wire.subarray(0, 27), 4)))).toEqual({ stdout: 'hello\n', stderr: 'oops\n' });
  });

  it("throws the daemon's in-band error (stream 3)", async () => {
    await expect(all(demultiplex(chunks(Buffer.concat([frame(1, 'a'), frame(3, 'exec failed')]), 5)))).rejects.toThrow('exec failed');
  });

  it('refuses an unknown stream byte and a stream cut inside a frame', async () => {
    await expect(all(demultiplex(chunks(frame(7, 'a'), 100)))).rejects.toBeInstanceOf(StreamFormatError);
    await expect(all(demultiplex(chunks(frame(1, 'abcdef').subarray(0, 10), 100)))).rejects.toThrow(/inside a frame/);
  });

  it('takes raw (TTY) output as stdout', async () => {
    const frames = await all(rawFrames(chunks(Buffer.from('\x01\x00\x00\x00raw'), 2)));
    expect(frames.every((f) => f.stream === 'stdout')).toBe(true);
    expect(Buffer.concat(frames.map((f) => f.data)).toString()).toBe('\x01\x00\x00\x00raw');
  });
});
