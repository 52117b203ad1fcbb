/** A peer broke SPDY's framing or rules: the connection is closed with GOAWAY(PROTOCOL_ERROR), never the process. */
export class SpdyProtocolError extends Error {
  override readonly name = 'SpdyProtocolError';
}
