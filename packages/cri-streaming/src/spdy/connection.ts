/**
 * A SPDY/3.1 session over an upgraded socket, either end: streams as Node Duplexes, header blocks
 * through the connection's zlib contexts, PING answered, GOAWAY honoured. Like Go's spdystream
 * (client-go's and kubelet's), it does not hold back DATA for the peer's flow-control window; it
 * does send WINDOW_UPDATEs for what it consumed, so a peer that honours windows never stalls.
 * Bounded: frame sizes, decompressed header blocks, concurrent streams, idle time. A protocol
 * error is logged and closes the connection (GOAWAY PROTOCOL_ERROR); nothing a peer sends throws
 * out of here.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { Logger } from '@gantry/linux';
import { SpdyProtocolError } from './errors';
import { DEFAULT_FRAME_LIMITS, encodeFrame, FrameDecoder, GoAwayStatus, RstStatus, type Frame, type FrameLimits } from './frame';
import { decodeHeaderBlock, encodeHeaderBlock, HeaderCompressor, HeaderDecompressor, type SpdyHeaders } from './headers';

export interface ConnectionLimits extends FrameLimits {
  /** Largest header block after decompression (bytes). */
  maxHeaderBlock: number;
  /** Streams open at once; more are refused with RST_STREAM(REFUSED_STREAM). */
  maxStreams: number;
  /** Close the connection after this long with no bytes either way (ms; 0: never). */
  idleTimeoutMs: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  ...DEFAULT_FRAME_LIMITS,
  maxHeaderBlock: 64 << 10,
  maxStreams: 256,
  idleTimeoutMs: 4 * 60 * 60 * 1000,
};

/** Largest DATA frame we send. */
const OUT_CHUNK = 32 << 10;
/** Consumed bytes after which a WINDOW_UPDATE is sent. */
const WINDOW_UPDATE_AT = 32 << 10;
/** Frames queued for processing before the socket is paused. */
const QUEUE_HIGH = 64;

export interface ConnectionOptions {
  role: 'server' | 'client';
  limits?: Partial<ConnectionLimits>;
  log?: Logger;
  /** A stream the peer opened (SYN_STREAM). Reply with `stream.reply()`. */
  onStream?: (stream: SpdyStream) => void;
}

export class SpdyStream extends Duplex {
  replied = false;
  /** The reply's headers (streams we opened). */
  replyHeaders: SpdyHeaders = new Map();
  localClosed = false;
  remoteClosed = false;
  unconsumed = 0;

  constructor(
    private readonly conn: SpdyConnection,
    readonly id: number,
    readonly headers: SpdyHeaders,
    readonly peerInitiated: boolean,
  ) {
    super({ allowHalfOpen: true });
  }

  /** The first value of a request header (lowercase name). */
  header(name: string): string | undefined {
    return this.headers.get(name.toLowerCase())?.[0];
  }

  /** Sends SYN_REPLY (once) for a stream the peer opened. */
  reply(headers: SpdyHeaders = new Map()): void {
    if (this.replied || !this.peerInitiated) return;
    this.replied = true;
    this.conn.sendHeaders('syn_reply', this.id, headers);
  }

  /** Ends the stream abruptly with RST_STREAM. */
  reset(status: number = RstStatus.Cancel): void {
    this.conn.resetStream(this, status);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.reply();
    this.conn.sendData(this, chunk, false, cb);
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.reply();
    this.conn.sendData(this, Buffer.alloc(0), true, cb);
  }

  override _read(): void {
    this.conn.resumeFor(this);
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    this.conn.streamDestroyed(this);
    cb(err);
  }
}

export class SpdyConnection extends EventEmitter {
  private readonly limits: ConnectionLimits;
  private readonly log: Logger;
  private readonly decoder: FrameDecoder;
  private readonly compressor = new HeaderCompressor();
  private readonly decompressor: HeaderDecompressor;
  private readonly streams = new Map<number, SpdyStream>();
  private readonly replyWaiters = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  private readonly queue: Frame[] = [];
  private pumping = false;
  private nextLocalId: number;
  private lastPeerId = 0;
  private goneAway = false;
  private closed = false;
  private readPaused = false;
  private connUnconsumed = 0;
  private socketGone = false;

  constructor(
    private readonly socket: Socket,
    private readonly opts: ConnectionOptions,
  ) {
    super();
    this.limits = { ...DEFAULT_CONNECTION_LIMITS, ...opts.limits };
    this.log = opts.log ?? new Logger('warn');
    this.decoder = new FrameDecoder(this.limits);
    this.decompressor = new HeaderDecompressor(this.limits.maxHeaderBlock);
    this.nextLocalId = opts.role === 'client' ? 1 : 2;
    socket.setNoDelay?.(true);
    if (this.limits.idleTimeoutMs > 0)
      socket.setTimeout(this.limits.idleTimeoutMs, () => {
        this.log.info('spdy connection idle, closing', { idleTimeoutMs: this.limits.idleTimeoutMs });
        this.close();
        socket.destroy();
      });
    socket.on('data', (c: Buffer) => this.onData(c));
    socket.on('error', (e) => this.log.debug('spdy socket error', { err: e.message }));
    // Frames already read are still processed (a reply, then data, then the peer's close).
    socket.on('close', () => {
      this.socketGone = true;
      if (!this.pumping) this.teardown();
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Streams open now. */
  get streamCount(): number {
    return this.streams.size;
  }

  /** Opens a stream and waits for the peer's SYN_REPLY. */
  createStream(headers: SpdyHeaders, opts: { fin?: boolean; timeoutMs?: number } = {}): Promise<SpdyStream> {
    if (this.closed || this.goneAway) return Promise.reject(new Error('spdy connection is closed'));
    const id = this.nextLocalId;
    this.nextLocalId += 2;
    const stream = new SpdyStream(this, id, headers, false);
    this.streams.set(id, stream);
    const replied = new Promise<SpdyStream>((resolve, reject) => {
      const timer = opts.timeoutMs
        ? setTimeout(() => {
            this.replyWaiters.delete(id);
            reject(new Error(`no SYN_REPLY for stream ${id} in ${opts.timeoutMs} ms`));
          }, opts.timeoutMs)
        : undefined;
      this.replyWaiters.set(id, {
        resolve: () => {
          clearTimeout(timer);
          resolve(stream);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
    const block = this.compressor.compress(encodeHeaderBlock(headers));
    this.write({ type: 'syn_stream', streamId: id, associatedTo: 0, priority: 0, fin: opts.fin ?? false, unidirectional: false, headerBlock: block });
    if (opts.fin) stream.localClosed = true;
    return replied;
  }

  /** Graceful close: GOAWAY(OK), then the socket ends once written. */
  close(): void {
    if (this.closed) return;
    if (!this.goneAway) this.write({ type: 'goaway', lastGoodStreamId: this.lastPeerId, status: GoAwayStatus.Ok });
    this.goneAway = true;
    this.socket.end();
  }

  // --- used by SpdyStream ---

  sendHeaders(type: 'syn_reply' | 'headers', streamId: number, headers: SpdyHeaders): void {
    this.write({ type, streamId, fin: false, headerBlock: this.compressor.compress(encodeHeaderBlock(headers)) });
  }

  sendData(stream: SpdyStream, data: Buffer, fin: boolean, cb: (e?: Error | null) => void): void {
    // After the connection or our half closed, writes are dropped (as to a closed socket), never thrown.
    if (this.closed || stream.localClosed) {
      cb();
      return;
    }
    let ok = true;
    for (let off = 0; off < data.length; off += OUT_CHUNK)
      ok = this.write({ type: 'data', streamId: stream.id, fin: false, data: data.subarray(off, off + OUT_CHUNK) });
    if (fin) {
      stream.localClosed = true;
      ok = this.write({ type: 'data', streamId: stream.id, fin: true, data: Buffer.alloc(0) });
      this.maybeForget(stream);
    }
    if (ok || this.closed) cb();
    else this.socket.once('drain', () => cb());
  }

  resetStream(stream: SpdyStream, status: number): void {
    if (!stream.localClosed || !stream.remoteClosed) this.write({ type: 'rst_stream', streamId: stream.id, status });
    stream.localClosed = stream.remoteClosed = true;
    this.streams.delete(stream.id);
    stream.destroy();
  }

  streamDestroyed(stream: SpdyStream): void {
    if (this.streams.get(stream.id) !== stream) return;
    this.streams.delete(stream.id);
    if (!this.closed && !(stream.localClosed && stream.remoteClosed)) this.write({ type: 'rst_stream', streamId: stream.id, status: RstStatus.Cancel });
    this.resumeFor(stream);
  }

  resumeFor(stream: SpdyStream): void {
    if (stream.unconsumed > 0) {
      const n = stream.unconsumed;
      stream.unconsumed = 0;
      if (!stream.remoteClosed && !this.closed) this.write({ type: 'window_update', streamId: stream.id, delta: n });
    }
    if (this.readPaused && this.queue.length < QUEUE_HIGH) {
      this.readPaused = false;
      this.socket.resume();
    }
  }

  // --- internals ---

  private write(f: Frame): boolean {
    if (this.closed || this.socket.destroyed || this.socket.writableEnded) return false;
    return this.socket.write(encodeFrame(f));
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    let frames: Frame[];
    try {
      frames = this.decoder.push(chunk);
    } catch (e) {
      this.fail(e);
      return;
    }
    this.queue.push(...frames);
    if (this.queue.length >= QUEUE_HIGH && !this.readPaused) {
      this.readPaused = true;
      this.socket.pause();
    }
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const f = this.queue.shift()!;
        await this.handle(f);
      }
    } catch (e) {
      this.fail(e);
    } finally {
      this.pumping = false;
    }
    if (this.socketGone) {
      this.teardown();
      return;
    }
    if (this.readPaused && this.queue.length < QUEUE_HIGH && ![...this.streams.values()].some((s) => s.readableLength > s.readableHighWaterMark)) {
      this.readPaused = false;
      this.socket.resume();
    }
  }

  private async headersOf(block: Buffer): Promise<SpdyHeaders> {
    return decodeHeaderBlock(await this.decompressor.decompress(block));
  }

  private peerParity(id: number): boolean {
    return this.opts.role === 'server' ? id % 2 === 1 : id % 2 === 0;
  }

  private async handle(f: Frame): Promise<void> {
    switch (f.type) {
      case 'syn_stream': {
        // Always inflate: the zlib context spans the connection, a skipped block desynchronizes it.
        const headers = await this.headersOf(f.headerBlock);
        if (!this.peerParity(f.streamId) || f.streamId <= this.lastPeerId)
          throw new SpdyProtocolError(`SYN_STREAM with stream id ${f.streamId} (last ${this.lastPeerId})`);
        this.lastPeerId = f.streamId;
        if (this.goneAway || this.streams.size >= this.limits.maxStreams || f.unidirectional) {
          this.log.warn('spdy stream refused', { streamId: f.streamId, open: this.streams.size, maxStreams: this.limits.maxStreams });
          this.write({ type: 'rst_stream', streamId: f.streamId, status: RstStatus.RefusedStream });
          return;
        }
        const stream = new SpdyStream(this, f.streamId, headers, true);
        this.streams.set(f.streamId, stream);
        if (f.fin) this.remoteEnd(stream);
        this.opts.onStream?.(stream);
        return;
      }
      case 'syn_reply': {
        const headers = await this.headersOf(f.headerBlock);
        const stream = this.streams.get(f.streamId);
        const waiter = this.replyWaiters.get(f.streamId);
        if (!stream || stream.peerInitiated || stream.replied) {
          this.write({ type: 'rst_stream', streamId: f.streamId, status: stream ? RstStatus.StreamInUse : RstStatus.InvalidStream });
          return;
        }
        stream.replied = true;
        stream.replyHeaders = headers;
        this.replyWaiters.delete(f.streamId);
        if (f.fin) this.remoteEnd(stream);
        waiter?.resolve();
        return;
      }
      case 'headers': {
        await this.headersOf(f.headerBlock);
        const stream = this.streams.get(f.streamId);
        if (stream && f.fin) this.remoteEnd(stream);
        return;
      }
      case 'data': {
        const stream = this.streams.get(f.streamId);
        if (!stream) {
          // Data for a stream already reset or finished here: SPDY says RST, and drop it.
          if (f.streamId > Math.max(this.lastPeerId, this.nextLocalId - 2)) throw new SpdyProtocolError(`DATA for stream ${f.streamId} that was never opened`);
          this.write({ type: 'rst_stream', streamId: f.streamId, status: RstStatus.InvalidStream });
          return;
        }
        if (stream.remoteClosed) {
          this.write({ type: 'rst_stream', streamId: f.streamId, status: RstStatus.StreamAlreadyClosed });
          return;
        }
        if (f.data.length > 0) {
          stream.unconsumed += f.data.length;
          this.connUnconsumed += f.data.length;
          if (this.connUnconsumed >= WINDOW_UPDATE_AT) {
            this.write({ type: 'window_update', streamId: 0, delta: this.connUnconsumed });
            this.connUnconsumed = 0;
          }
          if (!stream.push(f.data) && !this.readPaused) {
            this.readPaused = true;
            this.socket.pause();
          } else if (stream.unconsumed >= WINDOW_UPDATE_AT) this.resumeFor(stream);
        }
        if (f.fin) this.remoteEnd(stream);
        return;
      }
      case 'rst_stream': {
        const stream = this.streams.get(f.streamId);
        this.log.debug('spdy stream reset by peer', { streamId: f.streamId, status: f.status });
        const waiter = this.replyWaiters.get(f.streamId);
        this.replyWaiters.delete(f.streamId);
        waiter?.reject(new Error(`stream ${f.streamId} reset by peer (status ${f.status})`));
        if (stream) {
          stream.localClosed = stream.remoteClosed = true;
          this.streams.delete(f.streamId);
          stream.destroy();
        }
        return;
      }
      case 'ping':
        // Answer the peer's pings (the other parity); our own come back as answers.
        if (this.peerParity(f.id)) this.write(f);
        return;
      case 'goaway':
        this.goneAway = true;
        if (this.streams.size === 0) this.close();
        return;
      case 'settings':
      case 'window_update':
      case 'unknown':
        return;
    }
  }

  private remoteEnd(stream: SpdyStream): void {
    if (stream.remoteClosed) return;
    stream.remoteClosed = true;
    stream.push(null);
    this.maybeForget(stream);
  }

  private maybeForget(stream: SpdyStream): void {
    if (stream.localClosed && stream.remoteClosed) {
      this.streams.delete(stream.id);
      if (this.goneAway && this.streams.size === 0) this.close();
    }
  }

  private fail(e: unknown): void {
    if (this.closed) return;
    const msg = e instanceof Error ? e.message : String(e);
    this.log.error('spdy protocol error, closing connection', { err: msg, remote: this.socket.remoteAddress });
    this.write({
      type: 'goaway',
      lastGoodStreamId: this.lastPeerId,
      status: e instanceof SpdyProtocolError ? GoAwayStatus.ProtocolError : GoAwayStatus.InternalError,
    });
    this.goneAway = true;
    this.socket.end();
    this.socket.destroySoon?.();
    this.teardown();
  }

  private teardown(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.length = 0;
    this.decompressor.close();
    for (const w of this.replyWaiters.values()) w.reject(new Error('spdy connection closed'));
    this.replyWaiters.clear();
    const open = [...this.streams.values()];
    this.streams.clear();
    for (const s of open) {
      // A reader sees the end of what arrived; nothing more will.
      if (!s.remoteClosed) {
        s.remoteClosed = true;
        s.push(null);
      }
      s.localClosed = true;
    }
    if (!this.socket.destroyed) setImmediate(() => this.socket.destroy());
    this.emit('close');
  }
}
