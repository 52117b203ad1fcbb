/**
 * @gantry/client against a running gantryd: ping and version negotiation, version, info, df,
 * events as an async iterable, typed errors, aborts, and the connection error of a daemon that is
 * not there.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { API_VERSION, ConnectionError, EngineClient, NotFoundError, type EventMessage } from '@gantry/client';
import { describeIf, needRoot } from '@gantry/testkit';
import { clientFor } from '../src/client';
import { type GantrydHarness, sharedGantryd } from '../src/gantryd';

const d = describeIf(needRoot());

d('client: system endpoints', () => {
  let h: GantrydHarness;
  let client: EngineClient;

  beforeAll(async () => {
    h = await sharedGantryd();
    client = clientFor(h);
  }, 120000);

  afterAll(async () => {
    await h?.stop();
  });

  it('pings, and negotiates the version gantryd announces', async () => {
    const p = await client.system.ping();
    expect(p).toMatchObject({ apiVersion: API_VERSION, osType: 'linux' });
    expect(await client.apiVersion()).toBe(API_VERSION);
  });

  it('uses a fixed older version in its paths (DOCKER_API_VERSION)', async () => {
    const old = new EngineClient({ host: h.sock, env: { DOCKER_API_VERSION: '1.41' } });
    expect(await old.apiVersion()).toBe('1.41');
    expect((await old.system.version()).ApiVersion).toBe(API_VERSION);
    // a version the daemon refuses comes back as its typed error, message and all
    const tooNew = new EngineClient({ host: h.sock, apiVersion: '9.99', env: {} });
    await expect(tooNew.system.info()).rejects.toMatchObject({ name: 'BadRequestError', statusCode: 400, message: expect.stringContaining('is too new') });
  });

  it('reads version, info and df with their typed fields', async () => {
    const v = await client.system.version();
    expect(v.ApiVersion).toBe(API_VERSION);
    expect(v.Components.map((c) => c.Name)).toContain('Engine');
    const info = await client.system.info();
    expect(info.OSType).toBe('linux');
    expect(info.Images).toBeGreaterThanOrEqual(1);
    expect(info.DockerRootDir).toBe(join(h.dir, 'data'));
    const df = await client.system.df();
    expect(df.Images.some((i) => i.RepoTags.includes('busybox:latest'))).toBe(true);
    expect(Array.isArray(df.Volumes)).toBe(true);
  });

  it('streams events as they happen, filtered, until aborted', async () => {
    const ac = new AbortController();
    const name = `client-ev-${process.pid}`;
    const seen: EventMessage[] = [];
    const since = Math.floor(Date.now() / 1000) - 1;
    const done = (async () => {
      for await (const e of client.system.events({ since, filters: { type: ['volume'], volume: [name] }, signal: ac.signal })) {
        seen.push(e);
        if (e.Action === 'destroy') break; // leaving the loop ends the subscription
      }
    })();
    await client.volumes.create({ Name: name });
    await client.volumes.remove(name);
    await done;
    ac.abort();
    expect(seen.map((e) => [e.Type, e.Action, e.Actor.ID])).toEqual([
      ['volume', 'create', name],
      ['volume', 'destroy', name],
    ]);
  });

  it('ends an events stream bounded by until', async () => {
    const now = Math.floor(Date.now() / 1000);
    const events: EventMessage[] = [];
    for await (const e of client.system.events({ since: now - 3600, until: now, filters: { type: ['daemon'] } })) events.push(e);
    expect(events.every((e) => e.Type === 'daemon')).toBe(true);
  });

  it('throws typed errors carrying the status and the daemon message', async () => {
    const err = await client.containers.inspect('no-such-container-client').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err).toMatchObject({ statusCode: 404, message: 'No such container: no-such-container-client' });
  });

  it('aborts a call through its AbortSignal', async () => {
    const ac = new AbortController();
    const it = client.system.events({ signal: ac.signal });
    const next = it.next();
    setImmediate(() => ac.abort(new Error('stop listening')));
    await expect(next).rejects.toThrow('stop listening');
  });

  it('names the socket when the daemon is not there', async () => {
    const gone = join(h.dir, 'nobody.sock');
    expect(fs.existsSync(gone)).toBe(false);
    const c = new EngineClient({ host: `unix://${gone}`, env: {} });
    const err = await c.system.version().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as ConnectionError).message).toContain(`Cannot connect to the Gantry daemon at unix://${gone}`);
    // the environment's host is used when none is given
    const viaEnv = new EngineClient({ env: { GANTRY_HOST: `unix://${gone}` } });
    await expect(viaEnv.system.ping()).rejects.toBeInstanceOf(ConnectionError);
  });
});
