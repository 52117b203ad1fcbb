/**
 * A SPDY connection against a raw socket peer: PING answered, streams bounded, malformed frames
 * close the connection (GOAWAY PROTOCOL_ERROR, logged) and never throw.
 */
import * as net from 'node:net';
import { Logger } from '@gantry/linux';
import { waitFor } from '@gantry/testkit';
import { SpdyConnection, type SpdyStream } from '../src';
import { encodeFrame, FrameDecoder, GoAwayStatus, RstStatus, type Frame } from '../src/spdy/frame';
import { encodeHeaderBlock, HeaderCompressor, headersOf } from '../src/spdy/headers';

interface Peer {
  raw: net.Socket;
  frames: Frame[];
  closed: Promise<void>;
  server: SpdyConnection;
  streams: SpdyStream[];
  logs: string[];
}

let listener: net.Server;
let accept: (s: net.Socket) => void;
const accepted: net.Socket[] = [];
beforeAll(async () => {
  listener = net.createServer((s) => {
    accepted.push(s);
    accept(s);
  });
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
});
afterAll(() => {
  for (const s of accepted) s.destroy();
  return new Promise<void>((r) => listener.close(() => r()));
});

async function peer(limits = {}): Promise<Peer> {
  const logs: string[] = [];
  const streams: SpdyStream[] = [];
  const serverSide = new Promise<SpdyConnection>((resolve) => {
    accept = (s) =>
      resolve(
        new SpdyConnection(s, {
          role: 'server',
          limits,
          log: new Logger('debug', {}, (l) => logs.push(l)),
          onStream: (st) => {
            streams.push(st);
            st.reply();
          },
        }),
      );
  });
  const raw = net.connect((listener.address() as net.AddressInfo).port, '127.0.0.1');
  const frames: Frame[] = [];
  const d = new FrameDecoder();
  raw.on('data', (c: Buffer) => frames.push(...d.push(c)));
  const closed = new Promise<void>((r) => raw.on('close', () => r()));
  return { raw, frames, closed, server: await serverSide, streams, logs };
}

const compressor = (): ((h: Record<string, string>) => Buffer) => {
  const c = new HeaderCompressor();
  return (h) => c.compress(encodeHeaderBlock(headersOf(h)));
};

describe('SpdyConnection (server)', () => {
  it('answers a PING from the client and replies to its streams', async () => {
    const p = await peer();
    const hb = compressor();
    p.raw.write(encodeFrame({ type: 'ping', id: 1 }));
    p.raw.write(
      encodeFrame({
        type: 'syn_stream',
        streamId: 1,
        associatedTo: 0,
        priority: 0,
        fin: false,
        unidirectional: false,
        headerBlock: hb({ streamtype: 'stdout' }),
      }),
    );
    await waitFor('the pong and the reply', () => p.frames.length >= 2);
    expect(p.frames[0]).toEqual({ type: 'ping', id: 1 });
    expect(p.frames[1]).toMatchObject({ type: 'syn_reply', streamId: 1 });
    expect(p.streams[0]!.header('streamtype')).toBe('stdout');
    p.raw.destroy();
  });

  it('refuses streams past the limit with RST_STREAM(REFUSED_STREAM), keeping the connection', async () => {
    const p = await peer({ maxStreams: 2 });
    const hb = compressor();
    for (const id of [1, 3, 5])
      p.raw.write(
        encodeFrame({ type: 'syn_stream', streamId: id, associatedTo: 0, priority: 0, fin: false, unidirectional: false, headerBlock: hb({ n: String(id) }) }),
      );
    await waitFor('replies and a refusal', () => p.frames.length >= 3);
    expect(p.frames).toContainEqual({ type: 'rst_stream', streamId: 5, status: RstStatus.RefusedStream });
    expect(p.server.isClosed).toBe(false);
    p.raw.destroy();
  });

  it.each<[string, Buffer]>([
    ['a frame of another version', Buffer.from('800200060000000400000001', 'hex')],
    [
      'a header block that is not zlib',
      encodeFrame({ type: 'syn_stream', streamId: 1, associatedTo: 0, priority: 0, fin: false, unidirectional: false, headerBlock: Buffer.from('junk') }),
    ],
    ['a stream id going backwards', Buffer.alloc(0)],
    ['DATA on a stream never opened', encodeFrame({ type: 'data', streamId: 99, fin: false, data: Buffer.from('x') })],
  ])('closes the connection on %s with GOAWAY(PROTOCOL_ERROR) and a logged error', async (what, bytes) => {
    const p = await peer();
    if (what === 'a stream id going backwards') {
      const hb = compressor();
      p.raw.write(
        encodeFrame({ type: 'syn_stream', streamId: 3, associatedTo: 0, priority: 0, fin: false, unidirectional: false, headerBlock: hb({ a: '1' }) }),
      );
      p.raw.write(
        encodeFrame({ type: 'syn_stream', streamId: 1, associatedTo: 0, priority: 0, fin: false, unidirectional: false, headerBlock: hb({ a: '2' }) }),
      );
    } else p.raw.write(bytes);
    await p.closed;
    expect(p.frames).toContainEqual(expect.objectContaining({ type: 'goaway', status: GoAwayStatus.ProtocolError }));
    expect(p.logs.some((l) => JSON.parse(l).level === 'error' && JSON.parse(l).msg.includes('protocol error'))).toBe(true);
    expect(p.server.isClosed).toBe(true);
  });

  it('closes an idle connection', async () => {
    const p = await peer({ idleTimeoutMs: 100 });
    await p.closed;
    expect(p.server.isClosed).toBe(true);
  });

  it('delivers a client’s data and FIN to the stream, and the stream’s to the client', async () => {
    const p = await peer();
    const hb = compressor();
    p.raw.write(
      encodeFrame({
        type: 'syn_stream',
        streamId: 1,
        associatedTo: 0,
        priority: 0,
        fin: false,
        unidirectional: false,
        headerBlock: hb({ streamtype: 'stdin' }),
      }),
    );
    p.raw.write(encodeFrame({ type: 'data', streamId: 1, fin: false, data: Buffer.from('abc') }));
    p.raw.write(encodeFrame({ type: 'data', streamId: 1, fin: true, data: Buffer.from('def') }));
    await waitFor('the stream', () => p.streams[0]);
    const got: Buffer[] = [];
    p.streams[0]!.on('data', (c: Buffer) => got.push(c));
    await new Promise((r) => p.streams[0]!.once('end', r));
    expect(Buffer.concat(got).toString()).toBe('abcdef');
    p.streams[0]!.end('out');
    await waitFor('data and FIN', () => p.frames.some((f) => f.type === 'data' && f.fin));
    expect(p.frames.filter((f) => f.type === 'data')).toEqual([
      { type: 'data', streamId: 1, fin: false, data: Buffer.from('out') },
      { type: 'data', streamId: 1, fin: true, data: Buffer.alloc(0) },
    ]);
    expect(p.server.streamCount).toBe(0);
    p.raw.destroy();
  });
});
