/**
 * The real docker CLI against gantryd and Debian's docker-registry behind htpasswd auth:
 * `docker login`, `docker push`, `docker rmi`, `docker pull`, and `docker run` of an image that is
 * not present locally (the CLI pulls it after create answers 404). Root is needed.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { GantrydHarness } from '../src/gantryd';
import { describeIf, LocalRegistry, needRegistry, needRoot } from '@gantry/testkit';

const d = describeIf(needRoot(), needRegistry());

d('docker login / push / pull / run against a registry through gantryd', () => {
  let h: GantrydHarness;
  let reg: LocalRegistry;
  let repo: string;

  beforeAll(async () => {
    h = await GantrydHarness.start('gdreg-');
    reg = await LocalRegistry.start(join(h.dir, 'registry'), { carol: 'pa55word' });
    repo = `${reg.host}/e2e/busybox`;
    h.loadBusybox('busybox:latest');
  }, 60000);

  afterAll(async () => {
    await reg?.stop();
    await h?.stop();
  });

  it('docker login refuses a wrong password and accepts the right one', () => {
    const bad = h.docker(['login', '-u', 'carol', '--password-stdin', reg.host], 'wrong\n');
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain(`login attempt to http://${reg.host}/v2/ failed with status: 401 Unauthorized`);
    const good = h.ok(['login', '-u', 'carol', '--password-stdin', reg.host], 'pa55word\n');
    expect(good).toContain('Login Succeeded');
    // the daemon's log never holds the password
    expect(fs.readFileSync(h.logPath, 'utf8')).not.toContain('pa55word');
  });

  it('docker push shows progress and the digest; rmi + pull bring the same image back; run works', () => {
    h.ok(['tag', 'busybox:latest', `${repo}:v1`]);
    const localId = h.ok(['image', 'inspect', '-f', '{{.Id}}', `${repo}:v1`]).trim();
    const push = h.ok(['push', `${repo}:v1`]);
    expect(push).toContain(`The push refers to repository [${repo}]`);
    expect(push).toMatch(/[0-9a-f]{12}: Pushed/);
    const digest = /v1: digest: (sha256:[0-9a-f]{64}) size: \d+/.exec(push)?.[1];
    expect(digest).toBeDefined();

    h.ok(['rmi', `${repo}:v1`]);
    expect(h.docker(['image', 'inspect', `${repo}:v1`]).status).not.toBe(0);
    const pull = h.ok(['pull', `${repo}:v1`]);
    expect(pull).toContain('v1: Pulling from e2e/busybox');
    // busybox:latest still holds the layer: nothing to download
    expect(pull).toMatch(/[0-9a-f]{12}: Already exists/);
    expect(pull).toContain(`Digest: ${digest}`);
    expect(pull).toContain(`Status: Downloaded newer image for ${repo}:v1`);
    expect(h.ok(['image', 'inspect', '-f', '{{.Id}}', `${repo}:v1`]).trim()).toBe(localId);
    expect(h.ok(['image', 'inspect', '-f', '{{index .RepoDigests 0}}', `${repo}:v1`]).trim()).toBe(`${repo}@${digest}`);
    expect(h.ok(['run', '--rm', `${repo}:v1`, 'echo', 'pulled and ran']).trim()).toBe('pulled and ran');

    // docker run of an image that is not here: the CLI pulls it first
    h.ok(['rmi', `${repo}:v1`, 'busybox:latest']);
    const run = h.docker(['run', '--rm', `${repo}:v1`, 'echo', 'run pulled me']);
    expect(run.status).toBe(0);
    expect(run.stderr).toContain(`Unable to find image '${repo}:v1' locally`);
    expect(run.stderr).toMatch(/Pull complete/);
    expect(run.stdout.trim()).toBe('run pulled me');

    // the registry answers for the repository with its descriptor and platform
    const dist = JSON.parse(h.ok(['manifest', 'inspect', '--insecure', `${repo}:v1`]).trim() || '{}') as { config?: { digest?: string } };
    expect(dist.config?.digest).toBe(localId);
  });

  it('GET /distribution/{name}/json answers the descriptor and platforms; a missing tag is 404', async () => {
    const cfg = JSON.parse(fs.readFileSync(join(h.dir, 'cfg', 'config.json'), 'utf8')) as { auths: Record<string, { auth: string }> };
    const auth = Buffer.from(
      JSON.stringify({ username: 'carol', password: Buffer.from(Object.values(cfg.auths)[0]!.auth, 'base64').toString().split(':')[1] }),
    ).toString('base64url');
    const res = await h.request('GET', `/v1.45/distribution/${repo}:v1/json`, undefined, { 'X-Registry-Auth': auth });
    expect(res.status).toBe(200);
    const body = JSON.parse(res.body) as { Descriptor: { mediaType: string; digest: string; size: number }; Platforms: { os: string; architecture: string }[] };
    expect(body.Descriptor.digest).toMatch(/^sha256:/);
    expect(body.Platforms).toEqual([{ architecture: 'amd64', os: 'linux' }]);
    const missing = await h.request('GET', `/v1.45/distribution/${repo}:nope/json`, undefined, { 'X-Registry-Auth': auth });
    expect(missing.status).toBe(404);
    const anon = await h.request('GET', `/v1.45/distribution/${repo}:v1/json`);
    expect(anon.status).toBe(401);
    expect(JSON.parse(anon.body).message).toBe('no basic auth credentials');
  });

  it("errors read as Docker's: unknown tag, no credentials for a protected registry", () => {
    const missing = h.docker(['pull', `${repo}:nope`]);
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toContain(`Error response from daemon: manifest for ${repo}:nope not found: manifest unknown: manifest unknown`);
    h.ok(['logout', reg.host]);
    const anon = h.docker(['pull', `${repo}:v1`]);
    expect(anon.status).not.toBe(0);
    expect(anon.stderr).toContain('no basic auth credentials');
    h.ok(['tag', `${repo}:v1`, `${repo}:v2`]);
    const push = h.docker(['push', `${repo}:v2`]);
    expect(push.status).not.toBe(0);
    expect(push.stdout + push.stderr).toContain('no basic auth credentials');
  });
});
