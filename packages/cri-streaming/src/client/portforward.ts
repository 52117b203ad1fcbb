/**
 * A port-forward client: one forwarded connection to a pod port through the streaming server, as
 * client-go's portforward (SPDY: an error and a data stream paired by `requestid`) or over
 * WebSocket (channel 0 data, 1 error, each opening with the port in two little-endian bytes).
 */
import { Duplex, PassThrough, Writable } from 'node:stream';
import { headersOf } from '../spdy/headers';
import { PORTFORWARD_SPDY_PROTOCOLS } from '../protocols';
import { channelEncoding, decodeChannelMessage, encodeChannelMessage } from '../websocket/channels';
import { connectSpdy, connectWebSocket } from './connect';

export interface ForwardedConnection {
  /** Bytes to and from the pod's port. */
  stream: Duplex;
  /** The error stream's text once the forward ends ('' when none). */
  error: Promise<string>;
  close(): void;
}

export async function portForward(
  url: string,
  port: number,
  opts: { transport?: 'spdy' | 'websocket'; protocols?: string[] } = {},
): Promise<ForwardedConnection> {
  return opts.transport === 'websocket' ? portForwardWs(url, port, opts.protocols) : portForwardSpdy(url, port, opts.protocols);
}

async function portForwardSpdy(url: string, port: number, protocols?: string[]): Promise<ForwardedConnection> {
  const { conn } = await connectSpdy(url, protocols ?? [...PORTFORWARD_SPDY_PROTOCOLS]);
  const error = await conn.createStream(headersOf({ streamtype: 'error', port: String(port), requestid: '0' }), { timeoutMs: 30_000 });
  error.end();
  const data = await conn.createStream(headersOf({ streamtype: 'data', port: String(port), requestid: '0' }), { timeoutMs: 30_000 });
  const errorText = new Promise<string>((resolve) => {
    const chunks: Buffer[] = [];
    error.on('data', (c: Buffer) => chunks.push(c));
    const done = (): void => resolve(Buffer.concat(chunks).toString());
    error.on('end', done);
    error.on('close', done);
    error.on('error', done);
  });
  return { stream: data, error: errorText, close: () => conn.close() };
}

async function portForwardWs(url: string, port: number, protocols?: string[]): Promise<ForwardedConnection> {
  const u = new URL(url);
  u.searchParams.set('port', String(port));
  const incoming = new PassThrough();
  const errors: Buffer[] = [];
  const seenPrefix = [false, false];
  const ws = await connectWebSocket(u.toString(), protocols ?? ['v4.channel.k8s.io'], (sock, msg) => {
    const m = decodeChannelMessage(msg, channelEncoding(sock.protocol).base64, false);
    if (!m || m.channel > 1) return;
    let data = m.data;
    if (!seenPrefix[m.channel]) {
      // The first two bytes of each channel are the port, little-endian.
      seenPrefix[m.channel] = true;
      data = data.subarray(2);
    }
    if (m.channel === 0) incoming.write(data);
    else errors.push(data);
  });
  const { base64 } = channelEncoding(ws.protocol);
  const error = new Promise<string>((resolve) => {
    const done = (): void => {
      incoming.end();
      resolve(Buffer.concat(errors).toString());
    };
    if (ws.readyState === ws.CLOSED) done();
    else ws.once('close', done);
  });
  const outgoing = new Writable({
    write: (chunk: Buffer, _enc, cb) => ws.send(encodeChannelMessage(0, chunk, base64), { binary: !base64 }, () => cb()),
  });
  return { stream: Duplex.from({ readable: incoming, writable: outgoing }), error, close: () => ws.close() };
}
