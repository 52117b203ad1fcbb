/**
 * GET /events filters as dockerd applies them (moby events/filter.go): the name-keyed filters
 * (volume, network, daemon, ...) keep only events whose actor's ID or name starts with a value,
 * whatever the event's type; type, scope and event narrow as before.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { Logger } from '@gantry/linux';
import type { Containerd } from '../src/containerd/client';
import { ContainerStore } from '../src/containers/store';
import type { EngineContext } from '../src/context';
import { EngineEvents } from '../src/events';
import { Router } from '../src/http/router';
import { ApiServer } from '../src/http/server';
import { registerEventRoutes } from '../src/routes/events';
import { ImageService } from '../src/images/service';

describe('/events filters', () => {
  let dir: string;
  let sock: string;
  let server: ApiServer;
  let ctx: EngineContext;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gevfilters-'));
    sock = path.join(dir, 'api.sock');
    const log = new Logger('error', {}, () => undefined);
    ctx = { log, cd: {} as Containerd, events: new EngineEvents(), dataRoot: path.join(dir, 'data'), started: new Date() };
    const router = new Router();
    registerEventRoutes(router, ctx, new ContainerStore(ctx.dataRoot), new ImageService(ctx.cd));
    server = new ApiServer(router, log);
    await server.listen(sock);
    ctx.events.emit('volume', 'create', 'data-a');
    ctx.events.emit('volume', 'create', 'logs');
    ctx.events.emit('network', 'create', 'f00dcafe', { name: 'front', type: 'bridge' });
    ctx.events.emit('network', 'create', 'beefbeef', { name: 'back', type: 'bridge' });
    ctx.events.emit('container', 'start', 'abc123', { name: 'web', image: 'busybox' });
    ctx.events.emit('volume', 'destroy', 'data-a');
  });

  afterAll(async () => {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** The past events (since 0, until now) that pass `filters`, as "type action id". */
  function past(filters: Record<string, string[]>): Promise<string[]> {
    const q = new URLSearchParams({ since: '0', until: String(Date.now() / 1000), filters: JSON.stringify(filters) });
    return new Promise((resolve, reject) => {
      http
        .get({ socketPath: sock, path: `/events?${q.toString()}` }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () =>
            resolve(
              body
                .split('\n')
                .filter((l) => l !== '')
                .map((l) => JSON.parse(l) as { Type: string; Action: string; Actor: { ID: string } })
                .map((e) => `${e.Type} ${e.Action} ${e.Actor.ID}`),
            ),
          );
        })
        .on('error', reject);
    });
  }

  it('volume=NAME keeps only that volume (a prefix matches, as dockerd fuzzy-matches)', async () => {
    expect(await past({ volume: ['data-a'] })).toEqual(['volume create data-a', 'volume destroy data-a']);
    expect(await past({ volume: ['data'] })).toEqual(['volume create data-a', 'volume destroy data-a']);
    expect(await past({ type: ['volume'], volume: ['logs'] })).toEqual(['volume create logs']);
  });

  it('network= matches a network by ID or by name', async () => {
    expect(await past({ network: ['front'] })).toEqual(['network create f00dcafe']);
    expect(await past({ network: ['beef'] })).toEqual(['network create beefbeef']);
  });

  it('scope and event narrow; an unmatched name keeps nothing', async () => {
    expect(await past({ scope: ['swarm'] })).toEqual([]);
    expect((await past({ scope: ['local'], event: ['destroy'] })).length).toBe(1);
    expect(await past({ volume: ['nope'] })).toEqual([]);
  });
});
