/**
 * GET /events for a client that stops reading: gantryd queues at most EVENT_BACKLOG_LIMIT bytes
 * for it and drops the rest (as dockerd's publisher drops for a stuck subscriber), says so once in
 * its log, keeps serving other subscribers in full, and delivers again once the client reads.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Logger } from '@gantry/linux';
import { waitFor } from '@gantry/testkit';
import type { Containerd } from '../src/containerd/client';
import { ContainerStore } from '../src/containers/store';
import type { EngineContext } from '../src/context';
import { EngineEvents } from '../src/events';
import { EVENT_BACKLOG_LIMIT } from '../src/http/backpressure';
import { Router } from '../src/http/router';
import { ApiServer } from '../src/http/server';
import { registerEventRoutes } from '../src/routes/events';
import { ImageService } from '../src/images/service';

describe('/events and a client that does not read', () => {
  let dir: string;
  let sock: string;
  let server: ApiServer;
  let ctx: EngineContext;
  const logged: string[] = [];
  const conns: net.Socket[] = [];

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gevents-'));
    sock = path.join(dir, 'api.sock');
    const log = new Logger('warn', {}, (l) => void logged.push(l));
    ctx = { log, cd: {} as Containerd, events: new EngineEvents(), dataRoot: path.join(dir, 'data'), started: new Date() };
    const router = new Router();
    registerEventRoutes(router, ctx, new ContainerStore(ctx.dataRoot), new ImageService(ctx.cd));
    server = new ApiServer(router, log);
    await server.listen(sock);
  });

  afterAll(async () => {
    for (const c of conns) c.destroy();
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** A GET /events connection; resolves once the response head arrived. `lines` collects the events. */
  async function subscribe(): Promise<{ conn: net.Socket; names: string[] }> {
    const conn = net.connect(sock);
    conns.push(conn);
    const names: string[] = [];
    let buf = '';
    let head = true;
    const ready = new Promise<void>((resolve) => {
      conn.on('data', (b: Buffer) => {
        buf += b.toString('latin1');
        if (head) {
          const end = buf.indexOf('\r\n\r\n');
          if (end < 0) return;
          buf = buf.slice(end + 4);
          head = false;
          resolve();
        }
        // chunked body: the events are the lines that parse as JSON
        const parts = buf.split('\n');
        buf = parts.pop()!;
        for (const p of parts) {
          if (!p.startsWith('{')) continue;
          names.push((JSON.parse(p) as { Actor: { Attributes: { name: string } } }).Actor.Attributes.name);
        }
      });
    });
    conn.write('GET /v1.45/events HTTP/1.1\r\nHost: x\r\n\r\n');
    await ready;
    return { conn, names };
  }

  it('queues a bounded backlog for it, drops the rest, and keeps the others whole', async () => {
    const stuck = await subscribe();
    const reader = await subscribe();
    stuck.conn.pause();
    const big = 'x'.repeat(8192);
    const n = 2000; // 16 MiB of events: 16 times the backlog limit
    for (let i = 0; i < n; i++) {
      ctx.events.emit('container', 'start', `id${i}`, { name: `c${i}`, big });
      // the reading client keeps up (one that lags by the limit loses events too)
      if (i % 50 === 49) await waitFor('the reading client to keep up', () => reader.names.length === i + 1);
    }
    await waitFor('the reading client to get every event', () => reader.names.length === n);
    expect(reader.names[n - 1]).toBe(`c${n - 1}`);
    expect(logged.filter((l) => l.includes('dropping its events'))).toHaveLength(1);

    // the stuck client reads now: what was queued arrives in order, bounded by the limit (plus
    // what the kernel's socket buffers held), and newer events reach it again
    stuck.conn.resume();
    await waitFor('the stuck client to catch up with a new event', () => {
      ctx.events.emit('container', 'start', 'idmark', { name: 'mark' });
      return stuck.names.includes('mark');
    });
    const before = stuck.names.slice(0, stuck.names.indexOf('mark'));
    expect(before.length).toBeGreaterThan(0);
    expect(before.length).toBeLessThan(n / 2);
    expect(before.length * big.length).toBeLessThan(EVENT_BACKLOG_LIMIT + (4 << 20));
    expect(before).toEqual(before.map((_, i) => `c${i}`));
  });
});
