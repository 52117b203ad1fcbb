import * as fs from 'node:fs';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { CONNECTION_WINDOW, STREAM_WINDOW, widenFlowWindows } from '../src/flow-window';

/** The SETTINGS a client sees from a grpc-js server on a unix socket, and the connection window it may fill. */
async function seenByClient(widen: boolean): Promise<{ initialWindowSize: number | undefined; remoteWindow: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gantry-flow-window-'));
  const sock = path.join(dir, 'g.sock');
  const server = new Server();
  if (widen) expect(widenFlowWindows(server)).toBe(true);
  await new Promise<void>((resolve, reject) => server.bindAsync(`unix://${sock}`, ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())));
  const session = http2.connect('http://localhost', { createConnection: () => net.connect(sock) });
  try {
    // the server's SETTINGS come first; its WINDOW_UPDATE for the connection right after them
    await new Promise<void>((resolve) => session.once('remoteSettings', () => resolve()));
    const until = Date.now() + 2000;
    while (widen && (session.state.remoteWindowSize ?? 0) <= 65535 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    return { initialWindowSize: session.remoteSettings.initialWindowSize, remoteWindow: session.state.remoteWindowSize ?? 0 };
  } finally {
    session.destroy();
    server.forceShutdown();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('widenFlowWindows', () => {
  it('makes every session of the server advertise the wide stream and connection windows', async () => {
    const wide = await seenByClient(true);
    expect(wide.initialWindowSize).toBe(STREAM_WINDOW);
    expect(wide.remoteWindow).toBe(CONNECTION_WINDOW);
  });

  it('leaves a server it was not applied to at the 64 KiB defaults', async () => {
    const plain = await seenByClient(false);
    expect(plain.initialWindowSize).toBe(65535);
    expect(plain.remoteWindow).toBe(65535);
  });
});
