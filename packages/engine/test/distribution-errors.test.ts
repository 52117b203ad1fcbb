/**
 * The registry routes' error statuses, with a registry client that fails as told: a reference the
 * client cannot parse (@gantry/oci's InvalidReferenceError) is a 400 by its class, not its text;
 * a registry's auth refusal is a 401 on /distribution and a 500 on login's 404.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { Logger } from '@gantry/linux';
import { InvalidReferenceError } from '@gantry/oci';
import { RegistryError, type RegistryClient } from '@gantry/registry';
import type { DistributionBackend } from '../src/backend/distribution';
import type { Containerd } from '../src/containerd/client';
import type { EngineContext } from '../src/context';
import { EngineEvents } from '../src/events';
import { Router } from '../src/http/router';
import { ApiServer } from '../src/http/server';
import { registerDistributionRoutes } from '../src/routes/distribution';

describe('registry route errors', () => {
  let dir: string;
  let sock: string;
  let server: ApiServer;
  let failure: Error;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gdist-'));
    sock = path.join(dir, 'api.sock');
    const log = new Logger('error', {}, () => undefined); // 500s are logged: not wanted in the test output
    const ctx: EngineContext = { log, cd: {} as Containerd, events: new EngineEvents(), dataRoot: dir, started: new Date() };
    const fail = () => Promise.reject(failure);
    const client = { pull: fail, push: fail, login: fail, inspect: fail, close: () => undefined } as unknown as RegistryClient;
    const dist: DistributionBackend = {
      client: () => client,
      store: () => {
        throw new Error('no store in this test');
      },
      imageNames: () => Promise.resolve([]),
    };
    const router = new Router();
    registerDistributionRoutes(router, ctx, dist);
    server = new ApiServer(router, log);
    await server.listen(sock);
  });

  afterAll(async () => {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const request = (method: string, p: string, body?: string) =>
    new Promise<{ status: number; message: string }>((resolve, reject) => {
      const req = http.request({ socketPath: sock, method, path: p, headers: body ? { 'Content-Type': 'application/json' } : {} }, (res) => {
        let text = '';
        res.on('data', (b: Buffer) => (text += b.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, message: (JSON.parse(text) as { message: string }).message }));
      });
      req.on('error', reject);
      req.end(body);
    });

  it('answers an InvalidReferenceError with 400 and its message', async () => {
    failure = new InvalidReferenceError('invalid reference format: repository name (X) must be lowercase');
    expect(await request('GET', '/v1.45/distribution/busybox/json')).toEqual({
      status: 400,
      message: 'invalid reference format: repository name (X) must be lowercase',
    });
  });

  it('answers a plain error with the same text as a 500', async () => {
    failure = new Error('invalid reference format');
    expect(await request('GET', '/v1.45/distribution/busybox/json')).toEqual({ status: 500, message: 'invalid reference format' });
  });

  it('maps registry failures: auth 401, not-found on login 500', async () => {
    failure = new RegistryError('auth', 'unauthorized: authentication required');
    expect((await request('GET', '/v1.45/distribution/busybox/json')).status).toBe(401);
    failure = new RegistryError('not-found', 'no such registry');
    expect(await request('POST', '/v1.45/auth', JSON.stringify({ username: 'u', password: 'p', serveraddress: 'r.example' }))).toEqual({
      status: 500,
      message: 'no such registry',
    });
  });
});
