/**
 * SPDY/3.1 frames (draft 3.1, section 2.2): the wire format, an encoder and an incremental,
 * bounded decoder. Header blocks stay compressed here; connection.ts runs them through the zlib
 * context the whole connection shares.
 */
import { SpdyProtocolError } from './errors';

const SPDY_VERSION = 3;

const ControlType = {
  SynStream: 1,
  SynReply: 2,
  RstStream: 3,
  Settings: 4,
  Ping: 6,
  GoAway: 7,
  Headers: 8,
  WindowUpdate: 9,
} as const;

const FLAG_FIN = 0x01;
const FLAG_UNIDIRECTIONAL = 0x02;

/** RST_STREAM status codes. */
export const RstStatus = {
  ProtocolError: 1,
  InvalidStream: 2,
  RefusedStream: 3,
  UnsupportedVersion: 4,
  Cancel: 5,
  InternalError: 6,
  FlowControlError: 7,
  StreamInUse: 8,
  StreamAlreadyClosed: 9,
} as const;

/** GOAWAY status codes (the values Go's framer uses). */
export const GoAwayStatus = { Ok: 0, ProtocolError: 1, InternalError: 2 } as const;

export type Frame =
  | { type: 'data'; streamId: number; fin: boolean; data: Buffer }
  | { type: 'syn_stream'; streamId: number; associatedTo: number; priority: number; fin: boolean; unidirectional: boolean; headerBlock: Buffer }
  | { type: 'syn_reply'; streamId: number; fin: boolean; headerBlock: Buffer }
  | { type: 'rst_stream'; streamId: number; status: number }
  | { type: 'settings'; clear: boolean; entries: { flags: number; id: number; value: number }[] }
  | { type: 'ping'; id: number }
  | { type: 'goaway'; lastGoodStreamId: number; status: number }
  | { type: 'headers'; streamId: number; fin: boolean; headerBlock: Buffer }
  | { type: 'window_update'; streamId: number; delta: number }
  /** A control frame type SPDY/3.1 does not define: ignored, as the draft says. */
  | { type: 'unknown'; controlType: number };

export interface FrameLimits {
  /** Largest DATA payload accepted (bytes). */
  maxDataPayload: number;
  /** Largest control frame payload accepted (bytes), which bounds compressed header blocks. */
  maxControlPayload: number;
}

export const DEFAULT_FRAME_LIMITS: FrameLimits = { maxDataPayload: 1 << 20, maxControlPayload: 64 << 10 };

const MAX_LENGTH = 0xffffff;
const STREAM_ID_MASK = 0x7fffffff;

function control(type: number, flags: number, payload: Buffer): Buffer {
  if (payload.length > MAX_LENGTH) throw new RangeError(`SPDY control frame payload of ${payload.length} bytes`);
  const head = Buffer.alloc(8);
  head.writeUInt16BE(0x8000 | SPDY_VERSION, 0);
  head.writeUInt16BE(type, 2);
  head.writeUInt32BE(((flags & 0xff) << 24) | payload.length, 4);
  return Buffer.concat([head, payload]);
}

/** The wire bytes of one frame (header blocks as given: already compressed). */
export function encodeFrame(f: Frame): Buffer {
  switch (f.type) {
    case 'data': {
      if (f.data.length > MAX_LENGTH) throw new RangeError(`SPDY data frame payload of ${f.data.length} bytes`);
      const head = Buffer.alloc(8);
      head.writeUInt32BE(f.streamId & STREAM_ID_MASK, 0);
      head.writeUInt32BE(((f.fin ? FLAG_FIN : 0) << 24) | f.data.length, 4);
      return Buffer.concat([head, f.data]);
    }
    case 'syn_stream': {
      const p = Buffer.alloc(10);
      p.writeUInt32BE(f.streamId & STREAM_ID_MASK, 0);
      p.writeUInt32BE(f.associatedTo & STREAM_ID_MASK, 4);
      p.writeUInt8((f.priority & 0x7) << 5, 8);
      const flags = (f.fin ? FLAG_FIN : 0) | (f.unidirectional ? FLAG_UNIDIRECTIONAL : 0);
      return control(ControlType.SynStream, flags, Buffer.concat([p, f.headerBlock]));
    }
    case 'syn_reply':
    case 'headers': {
      const p = Buffer.alloc(4);
      p.writeUInt32BE(f.streamId & STREAM_ID_MASK, 0);
      return control(f.type === 'syn_reply' ? ControlType.SynReply : ControlType.Headers, f.fin ? FLAG_FIN : 0, Buffer.concat([p, f.headerBlock]));
    }
    case 'rst_stream': {
      const p = Buffer.alloc(8);
      p.writeUInt32BE(f.streamId & STREAM_ID_MASK, 0);
      p.writeUInt32BE(f.status >>> 0, 4);
      return control(ControlType.RstStream, 0, p);
    }
    case 'settings': {
      const p = Buffer.alloc(4 + 8 * f.entries.length);
      p.writeUInt32BE(f.entries.length, 0);
      f.entries.forEach((e, i) => {
        p.writeUInt32BE((((e.flags & 0xff) << 24) | (e.id & 0xffffff)) >>> 0, 4 + 8 * i);
        p.writeUInt32BE(e.value >>> 0, 8 + 8 * i);
      });
      return control(ControlType.Settings, f.clear ? 1 : 0, p);
    }
    case 'ping': {
      const p = Buffer.alloc(4);
      p.writeUInt32BE(f.id >>> 0, 0);
      return control(ControlType.Ping, 0, p);
    }
    case 'goaway': {
      const p = Buffer.alloc(8);
      p.writeUInt32BE(f.lastGoodStreamId & STREAM_ID_MASK, 0);
      p.writeUInt32BE(f.status >>> 0, 4);
      return control(ControlType.GoAway, 0, p);
    }
    case 'window_update': {
      const p = Buffer.alloc(8);
      p.writeUInt32BE(f.streamId & STREAM_ID_MASK, 0);
      p.writeUInt32BE(f.delta & STREAM_ID_MASK, 4);
      return control(ControlType.WindowUpdate, 0, p);
    }
    case 'unknown':
      throw new RangeError(`cannot encode SPDY control frame type ${f.controlType}`);
  }
}

function need(ok: boolean, what: string): void {
  if (!ok) throw new SpdyProtocolError(what);
}

function decodeControl(type: number, flags: number, p: Buffer): Frame {
  switch (type) {
    case ControlType.SynStream: {
      need(p.length >= 10, `SYN_STREAM of ${p.length} bytes`);
      const streamId = p.readUInt32BE(0) & STREAM_ID_MASK;
      need(streamId !== 0, 'SYN_STREAM for stream 0');
      return {
        type: 'syn_stream',
        streamId,
        associatedTo: p.readUInt32BE(4) & STREAM_ID_MASK,
        priority: p.readUInt8(8) >> 5,
        fin: (flags & FLAG_FIN) !== 0,
        unidirectional: (flags & FLAG_UNIDIRECTIONAL) !== 0,
        headerBlock: p.subarray(10),
      };
    }
    case ControlType.SynReply:
    case ControlType.Headers: {
      need(p.length >= 4, `${type === ControlType.SynReply ? 'SYN_REPLY' : 'HEADERS'} of ${p.length} bytes`);
      const streamId = p.readUInt32BE(0) & STREAM_ID_MASK;
      need(streamId !== 0, 'header frame for stream 0');
      return { type: type === ControlType.SynReply ? 'syn_reply' : 'headers', streamId, fin: (flags & FLAG_FIN) !== 0, headerBlock: p.subarray(4) };
    }
    case ControlType.RstStream:
      need(p.length === 8, `RST_STREAM of ${p.length} bytes`);
      return { type: 'rst_stream', streamId: p.readUInt32BE(0) & STREAM_ID_MASK, status: p.readUInt32BE(4) };
    case ControlType.Settings: {
      need(p.length >= 4, `SETTINGS of ${p.length} bytes`);
      const n = p.readUInt32BE(0);
      need(p.length === 4 + 8 * n, `SETTINGS of ${p.length} bytes for ${n} entries`);
      const entries = [];
      for (let i = 0; i < n; i++) {
        const w = p.readUInt32BE(4 + 8 * i);
        entries.push({ flags: w >>> 24, id: w & 0xffffff, value: p.readUInt32BE(8 + 8 * i) });
      }
      return { type: 'settings', clear: (flags & 1) !== 0, entries };
    }
    case ControlType.Ping:
      need(p.length === 4, `PING of ${p.length} bytes`);
      return { type: 'ping', id: p.readUInt32BE(0) };
    case ControlType.GoAway:
      need(p.length === 8, `GOAWAY of ${p.length} bytes`);
      return { type: 'goaway', lastGoodStreamId: p.readUInt32BE(0) & STREAM_ID_MASK, status: p.readUInt32BE(4) };
    case ControlType.WindowUpdate:
      need(p.length === 8, `WINDOW_UPDATE of ${p.length} bytes`);
      return { type: 'window_update', streamId: p.readUInt32BE(0) & STREAM_ID_MASK, delta: p.readUInt32BE(4) & STREAM_ID_MASK };
    default:
      return { type: 'unknown', controlType: type };
  }
}

/**
 * Incremental decoder: `push` bytes as they arrive, get the whole frames they complete. A frame
 * over the limits, a version other than 3 or a malformed control frame throws SpdyProtocolError;
 * after that the decoder is unusable (the connection closes).
 */
export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0);
  private failed = false;

  constructor(private readonly limits: FrameLimits = DEFAULT_FRAME_LIMITS) {}

  push(chunk: Buffer): Frame[] {
    if (this.failed) throw new SpdyProtocolError('decoder already failed');
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: Frame[] = [];
    try {
      for (;;) {
        if (this.buf.length < 8) break;
        const w0 = this.buf.readUInt32BE(0);
        const w1 = this.buf.readUInt32BE(4);
        const flags = w1 >>> 24;
        const length = w1 & 0xffffff;
        const isControl = (w0 & 0x80000000) !== 0;
        if (isControl) {
          const version = (w0 >>> 16) & 0x7fff;
          need(version === SPDY_VERSION, `SPDY version ${version}`);
          need(length <= this.limits.maxControlPayload, `control frame of ${length} bytes (limit ${this.limits.maxControlPayload})`);
        } else {
          need(length <= this.limits.maxDataPayload, `data frame of ${length} bytes (limit ${this.limits.maxDataPayload})`);
        }
        if (this.buf.length < 8 + length) break;
        const payload = Buffer.from(this.buf.subarray(8, 8 + length));
        this.buf = this.buf.subarray(8 + length);
        if (isControl) out.push(decodeControl(w0 & 0xffff, flags, payload));
        else {
          const streamId = w0 & STREAM_ID_MASK;
          need(streamId !== 0, 'DATA frame for stream 0');
          out.push({ type: 'data', streamId, fin: (flags & FLAG_FIN) !== 0, data: payload });
        }
      }
    } catch (e) {
      this.failed = true;
      throw e;
    }
    return out;
  }

  /** Bytes of an incomplete frame still held. */
  get pending(): number {
    return this.buf.length;
  }
}
