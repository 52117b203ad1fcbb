/**
 * @gantry/client's registry endpoints against a running gantryd and Debian's docker-registry
 * behind htpasswd auth: auth (login), push and pull as progress streams, distribution inspect, and
 * the failures (wrong password, unknown tag, no credentials) as typed errors.
 */
import { join } from 'node:path';
import { type EngineClient, UnauthorizedError, type AuthConfig, type JsonMessage } from '@gantry/client';
import { describeIf, LocalRegistry, needRegistry, needRoot } from '@gantry/testkit';
import { clientFor, drain } from '../src/client';
import { type GantrydHarness, sharedGantryd } from '../src/gantryd';

const d = describeIf(needRoot(), needRegistry());

d('client: registry auth, push, pull, distribution', () => {
  let h: GantrydHarness;
  let client: EngineClient;
  let reg: LocalRegistry;
  let repo: string;
  let auth: AuthConfig;

  beforeAll(async () => {
    h = await sharedGantryd();
    client = clientFor(h);
    reg = await LocalRegistry.start(join(h.dir, `client-registry-${process.pid}`), { dave: 's3cret' });
    repo = `${reg.host}/client/busybox`;
    auth = { username: 'dave', password: 's3cret', serveraddress: reg.host };
  }, 120000);

  afterAll(async () => {
    await reg?.stop();
    await h?.stop();
  }, 60000);

  it('auth refuses a wrong password (401) and accepts the right one', async () => {
    const bad = await client.system.auth({ ...auth, password: 'wrong' }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(UnauthorizedError);
    expect((bad as UnauthorizedError).message).toContain('401 Unauthorized');
    expect(await client.system.auth(auth)).toMatchObject({ Status: 'Login Succeeded' });
  });

  it('pushes with progress, then pulls the same image back', async () => {
    await client.images.tag('busybox:latest', repo, 'v1');
    const localId = (await client.images.inspect(`${repo}:v1`)).Id;
    const pushed: JsonMessage[] = await drain(client.images.push(repo, { tag: 'v1', auth }));
    expect(pushed.some((m) => m.status === 'Pushed')).toBe(true);
    const digest = pushed.map((m) => /digest: (sha256:[0-9a-f]{64})/.exec(m.status ?? '')?.[1]).find(Boolean);
    expect(digest).toBeDefined();

    const dist = await client.images.distribution(`${repo}:v1`, { auth });
    expect(dist.Descriptor.digest).toBe(digest);
    expect(dist.Platforms).toEqual(expect.arrayContaining([expect.objectContaining({ os: 'linux' })]));

    await client.images.remove(`${repo}:v1`);
    const pulled = await drain(client.images.pull(repo, { tag: 'v1', auth }));
    // as the CLI prints them, `id: status`
    const statuses = pulled.map((m) => (m.id !== undefined ? `${m.id}: ${m.status ?? ''}` : (m.status ?? '')));
    expect(statuses).toContain('v1: Pulling from client/busybox');
    expect(statuses.some((s) => /^[0-9a-f]{12}: Already exists$/.test(s))).toBe(true);
    expect(statuses).toContain(`Digest: ${digest}`);
    expect(statuses).toContain(`Status: Downloaded newer image for ${repo}:v1`);
    expect((await client.images.inspect(`${repo}:v1`)).Id).toBe(localId);
    await client.images.remove(`${repo}:v1`);
  });

  it('failures are thrown: unknown tag, no credentials for pull and push', async () => {
    await expect(drain(client.images.pull(repo, { tag: 'nope', auth }))).rejects.toThrow(/manifest unknown/);
    await expect(drain(client.images.pull(repo, { tag: 'v1' }))).rejects.toThrow(/no basic auth credentials/);
    await client.images.tag('busybox:latest', repo, 'v2');
    try {
      await expect(drain(client.images.push(repo, { tag: 'v2' }))).rejects.toThrow(/no basic auth credentials/);
    } finally {
      await client.images.remove(`${repo}:v2`);
    }
  });
});
