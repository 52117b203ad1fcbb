/**
 * HTTP/2 flow-control windows for the daemon's gRPC server. Node's http2 server advertises 64 KiB
 * windows (per stream and per connection) and grpc-js has no server option to change them, so a
 * Content Write of a layer waits for a WINDOW_UPDATE every 64 KiB, and the parallel writes of one
 * pull share one 64 KiB connection window: measured, three 16 MB layers written at once spent
 * 900 ms each waiting on the stream (bench/trace-pull.mjs). Go's gRPC grows its windows to 16 MiB.
 * The windows only say how much a client may send before the server has read it; the handlers
 * still read one message at a time, so memory stays bounded by the window.
 */
import type * as http2 from 'node:http2';
import type { Server } from '@grpc/grpc-js';

/** Per-stream window (bytes). */
export const STREAM_WINDOW = 8 << 20;
/** Connection window (bytes): room for a few streams' windows at once. */
export const CONNECTION_WINDOW = 32 << 20;

interface Http2Factory {
  createHttp2Server(credentials: unknown): http2.Http2Server;
}

/**
 * Wrap grpc-js's (private) http2 server factory so that every session it accepts advertises the
 * wider windows. Returns false, changing nothing, when grpc-js has no such factory (a newer
 * version): the server then works as before, only slower.
 */
export function widenFlowWindows(server: Server, stream = STREAM_WINDOW, connection = CONNECTION_WINDOW): boolean {
  const s = server as unknown as Partial<Http2Factory>;
  const original = s.createHttp2Server;
  if (typeof original !== 'function') return false;
  s.createHttp2Server = function (this: Server, credentials: unknown): http2.Http2Server {
    const h2 = original.call(this, credentials);
    h2.on('session', (session: http2.ServerHttp2Session) => {
      try {
        session.settings({ initialWindowSize: stream });
        session.setLocalWindowSize(connection);
      } catch {
        // a session already closing: nothing to widen
      }
    });
    return h2;
  };
  return true;
}
