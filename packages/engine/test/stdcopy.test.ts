import { Readable } from 'node:stream';
import { Demuxer, demux, frame, StdcopyError, StdStream, STDCOPY_HEADER_SIZE, type Frame } from '../src/streams/stdcopy';

describe('stdcopy framing', () => {
  it('writes the 8-byte header: stream, three zeros, big-endian size', () => {
    const f = frame(StdStream.Stderr, 'hi\n');
    expect([...f.subarray(0, STDCOPY_HEADER_SIZE)]).toEqual([2, 0, 0, 0, 0, 0, 0, 3]);
    expect(f.subarray(8).toString()).toBe('hi\n');
    expect(frame(StdStream.Stdout, Buffer.alloc(0x01020304 & 0xffff)).readUInt32BE(4)).toBe(0x0304);
    expect(frame(StdStream.SystemErr, Buffer.alloc(0))).toEqual(Buffer.from([3, 0, 0, 0, 0, 0, 0, 0]));
  });

  it('round-trips frames pushed in any split, down to one byte at a time', () => {
    const frames: Frame[] = [
      { stream: StdStream.Stdout, data: Buffer.from('hello\n') },
      { stream: StdStream.Stderr, data: Buffer.from('oops\n') },
      { stream: StdStream.Stdout, data: Buffer.alloc(0) },
      { stream: StdStream.Stdin, data: Buffer.alloc(70_000, 7) },
      { stream: StdStream.SystemErr, data: Buffer.from('daemon error') },
    ];
    const wire = Buffer.concat(frames.map((f) => frame(f.stream, f.data)));
    for (const step of [1, 3, 7, 8, 9, 1000, wire.length]) {
      const d = new Demuxer();
      const got: Frame[] = [];
      for (let i = 0; i < wire.length; i += step) got.push(...d.push(wire.subarray(i, i + step)));
      d.end();
      // compare as base64: toEqual walks big buffers byte by byte
      const flat = (fs: Frame[]): [number, string][] => fs.map((f) => [f.stream, f.data.toString('base64')]);
      expect(flat(got)).toEqual(flat(frames));
      expect(d.pending).toBe(0);
    }
  });

  it('refuses unknown streams, oversized frames and a truncated end', () => {
    expect(() => new Demuxer().push(Buffer.from([4, 0, 0, 0, 0, 0, 0, 1, 0]))).toThrow(StdcopyError);
    expect(() => new Demuxer(10).push(frame(StdStream.Stdout, Buffer.alloc(11)))).toThrow(/larger/);
    const d = new Demuxer();
    expect(d.push(frame(StdStream.Stdout, 'abc').subarray(0, 9))).toEqual([]);
    expect(d.pending).toBe(9);
    expect(() => d.end()).toThrow(/inside a frame/);
  });

  it('demultiplexes a readable stream', async () => {
    const wire = Buffer.concat([frame(StdStream.Stdout, 'a'), frame(StdStream.Stderr, 'b'), frame(StdStream.Stdout, 'c')]);
    const chunks = [wire.subarray(0, 5), wire.subarray(5, 12), wire.subarray(12)];
    const got: string[] = [];
    for await (const f of demux(Readable.from(chunks))) got.push(`${f.stream}:${f.data.toString()}`);
    expect(got).toEqual(['1:a', '2:b', '1:c']);
  });
});
