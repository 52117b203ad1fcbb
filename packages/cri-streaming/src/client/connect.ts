/** Client upgrades: HTTP/1.1 to SPDY/3.1 (as client-go's spdy round tripper) or to a WebSocket. */
import * as http from 'node:http';
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { SpdyConnection } from '../spdy/connection';
import { STREAM_PROTOCOL_HEADER } from '../protocols';

/** The server answered the upgrade with an HTTP error (404 for an unknown, used or expired URL). */
export class StreamingHttpError extends Error {
  override readonly name = 'StreamingHttpError';
  constructor(
    readonly statusCode: number,
    readonly body: string,
  ) {
    super(`streaming upgrade failed: HTTP ${statusCode}: ${body.trim()}`);
  }
}

export async function connectSpdy(
  url: string,
  protocols: readonly string[],
  method: 'GET' | 'POST' = 'POST',
): Promise<{ conn: SpdyConnection; protocol: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method,
      headers: { Connection: 'Upgrade', Upgrade: 'SPDY/3.1', [STREAM_PROTOCOL_HEADER]: [...protocols] },
    });
    req.on('upgrade', (res: http.IncomingMessage, socket: Socket, head: Buffer) => {
      if (head.length > 0) socket.unshift(head);
      const protocol = String(res.headers[STREAM_PROTOCOL_HEADER.toLowerCase()] ?? '');
      resolve({ conn: new SpdyConnection(socket, { role: 'client', limits: { idleTimeoutMs: 0 } }), protocol });
    });
    req.on('response', (res: http.IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => reject(new StreamingHttpError(res.statusCode ?? 0, Buffer.concat(chunks).toString())));
    });
    req.on('error', reject);
    req.end();
  });
}

/** `onMessage` is attached before the handshake completes: the server may send in the same packet as its 101. */
export async function connectWebSocket(url: string, protocols: readonly string[], onMessage: (ws: WebSocket, msg: Buffer) => void): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace(/^http/, 'ws'), [...protocols], { perMessageDeflate: false });
    ws.on('message', (raw: WebSocket.RawData) => onMessage(ws, Buffer.isBuffer(raw) ? raw : Array.isArray(raw) ? Buffer.concat(raw) : Buffer.from(raw)));
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => reject(new StreamingHttpError(res.statusCode ?? 0, Buffer.concat(chunks).toString())));
    });
    ws.once('error', reject);
  });
}
