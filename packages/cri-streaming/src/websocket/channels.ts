/**
 * apimachinery's wsstream channel framing: every WebSocket message is one channel byte and that
 * channel's data. Binary protocols carry the byte as is; base64 protocols send text messages whose
 * first character is '0'+channel and the rest the data in base64. v5.channel.k8s.io adds a close
 * signal: [255, channel] ends that channel's input.
 */
import { Duplex, Readable, Writable } from 'node:stream';
import type { Logger } from '@gantry/linux';
import type WebSocket from 'ws';
import { CLOSE_CHANNEL } from '../protocols';

export interface ChannelOptions {
  base64: boolean;
  /** v5: the [255, n] close signal. */
  closeSignal: boolean;
  channels: number;
  idleTimeoutMs: number;
  log: Logger;
}

export function channelEncoding(protocol: string): { base64: boolean; closeSignal: boolean } {
  return { base64: protocol.includes('base64.'), closeSignal: protocol.startsWith('v5.') };
}

export function encodeChannelMessage(channel: number, data: Buffer, base64: boolean): Buffer | string {
  return base64 ? String.fromCharCode(48 + channel) + data.toString('base64') : Buffer.concat([Buffer.from([channel]), data]);
}

/** The channel and data of a message, or undefined for an empty one; throws on a bad close signal or base64. */
export function decodeChannelMessage(msg: Buffer, base64: boolean, closeSignal: boolean): { channel: number; data: Buffer; close: boolean } | undefined {
  if (msg.length === 0) return undefined;
  if (closeSignal && msg[0] === CLOSE_CHANNEL) {
    if (msg.length !== 2) throw new Error(`close signal of ${msg.length} bytes`);
    return { channel: msg[1]!, data: Buffer.alloc(0), close: true };
  }
  if (!base64) return { channel: msg[0]!, data: msg.subarray(1), close: false };
  const text = msg.subarray(1).toString('latin1');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw new Error('invalid base64 in channel message');
  return { channel: msg[0]! - 48, data: Buffer.from(text, 'base64'), close: false };
}

export class ChannelConnection {
  private readonly inputs: Readable[] = [];
  private readonly outputs: Writable[] = [];
  private idle: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly ended = new Set<number>();

  constructor(
    private readonly ws: WebSocket,
    private readonly opts: ChannelOptions,
  ) {
    for (let ch = 0; ch < opts.channels; ch++) {
      this.inputs.push(new Readable({ read: () => ws.isPaused && ws.resume() }));
      this.outputs.push(this.output(ch));
    }
    for (const s of [...this.inputs, ...this.outputs]) s.on('error', (e: Error) => opts.log.debug('channel stream error', { err: e.message }));
    this.touch();
    ws.on('message', (data: WebSocket.RawData) => this.onMessage(Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)));
    ws.on('error', (e) => opts.log.debug('websocket error', { err: e.message }));
    ws.on('close', () => this.teardown());
  }

  input(ch: number): Readable {
    return this.inputs[ch]!;
  }

  output(ch: number): Writable {
    const have = this.outputs[ch];
    if (have) return have;
    return new Writable({
      write: (chunk: Buffer, _enc, cb) => this.send(ch, chunk, cb),
      final: (cb) => {
        if (this.opts.closeSignal && !this.closed) this.ws.send(Buffer.from([CLOSE_CHANNEL, ch]), () => cb());
        else cb();
      },
    });
  }

  /** A duplex of one channel's input and output (port-forward's data channel). */
  duplex(ch: number): Duplex {
    return Duplex.from({ readable: this.input(ch), writable: this.output(ch) });
  }

  send(ch: number, data: Buffer, cb: (e?: Error | null) => void = () => undefined): void {
    if (this.closed) {
      cb();
      return;
    }
    this.touch();
    this.ws.send(encodeChannelMessage(ch, data, this.opts.base64), { binary: !this.opts.base64 }, () => cb());
  }

  close(code = 1000): void {
    if (this.closed) return;
    // A paused socket would never read the peer's close frame.
    if (this.ws.isPaused) this.ws.resume();
    this.ws.close(code);
  }

  private onMessage(msg: Buffer): void {
    this.touch();
    let m: ReturnType<typeof decodeChannelMessage>;
    try {
      m = decodeChannelMessage(msg, this.opts.base64, this.opts.closeSignal);
    } catch (e) {
      this.opts.log.error('websocket protocol error, closing connection', { err: e instanceof Error ? e.message : String(e) });
      this.ws.close(1002);
      return;
    }
    if (!m || m.channel < 0 || m.channel >= this.inputs.length) return;
    const input = this.inputs[m.channel]!;
    if (this.ended.has(m.channel)) return;
    if (m.close) {
      this.ended.add(m.channel);
      input.push(null);
    } else if (m.data.length > 0 && !input.push(m.data)) this.ws.pause();
  }

  private touch(): void {
    if (this.opts.idleTimeoutMs <= 0 || this.closed) return;
    clearTimeout(this.idle);
    this.idle = setTimeout(() => {
      this.opts.log.info('websocket idle, closing', { idleTimeoutMs: this.opts.idleTimeoutMs });
      this.ws.terminate();
    }, this.opts.idleTimeoutMs);
  }

  private teardown(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.idle);
    this.inputs.forEach((input, ch) => {
      if (!this.ended.has(ch)) input.push(null);
      this.ended.add(ch);
    });
  }
}
