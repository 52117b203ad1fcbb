import * as http from 'node:http';

export interface RawHttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/**
 * One HTTP request over a unix socket, on its own connection.
 *
 * A server may answer and close before it has read the whole body (a 413, a 404 before a tar
 * upload): the client's pending write then fails with EPIPE. While the request is in flight
 * that error rejects; once the socket has gone back to a keep-alive pool it had no listener and
 * crashed the test process ("write EPIPE" failing a suite whose tests all passed). So: no pooled
 * sockets (`agent: false`), and a late error on a socket whose answer is in is ignored.
 */
export function unixRequest(socketPath: string, method: string, path: string, body?: string | Buffer, headers: Record<string, string | number> = {}): Promise<RawHttpResult> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('socket', (s) => s.on('error', () => undefined)); // errors in flight reach req's listener too
    req.on('error', reject);
    req.end(body);
  });
}
