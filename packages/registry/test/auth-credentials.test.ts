/** Unit tests: challenge parsing, token cache, loopback detection, Docker config credentials and helpers. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { credentialsFromConfig, endpointHost, isLoopback, parseChallenges, RegistryHost, registryKeyHost, repositoryScope, TokenCache } from '../src';

describe('WWW-Authenticate challenges', () => {
  it('parses bearer parameters, quoted commas and several challenges', () => {
    expect(parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push"')).toEqual([
      { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull,push' } },
    ]);
    expect(parseChallenges('Basic realm="Registry Realm"')).toEqual([{ scheme: 'basic', params: { realm: 'Registry Realm' } }]);
    expect(parseChallenges(['Negotiate', 'Basic realm=x'])).toEqual([{ scheme: 'basic', params: { realm: 'x' } }]);
    expect(parseChallenges(undefined)).toEqual([]);
  });

  it('scopes and the token cache (per sorted scope set, expiring)', () => {
    expect(repositoryScope('a/b', ['pull', 'push'])).toBe('repository:a/b:pull,push');
    const c = new TokenCache();
    c.set(['b', 'a'], 'tok', 300);
    expect(c.get(['a', 'b'])).toBe('tok');
    expect(c.get(['a'])).toBeUndefined();
    c.set(['x'], 'short', 0); // 0: the spec's 60 s default
    expect(c.get(['x'])).toBe('short');
  });
});

describe('hosts', () => {
  it.each([
    ['localhost:5000', true],
    ['localhost', true],
    ['127.0.0.1:5000', true],
    ['127.8.9.10', true],
    ['[::1]:5000', true],
    ['registry.example.com', false],
    ['10.0.0.1:5000', false],
    ['128.0.0.1', false],
  ])('%s loopback: %s', (h, want) => expect(isLoopback(h)).toBe(want));

  it('plain HTTP only for loopback and configured insecure registries', () => {
    const hosts = [
      new RegistryHost('127.0.0.1:5000'),
      new RegistryHost('registry.example.com:5000'),
      new RegistryHost('registry.example.com:5000', { insecureRegistries: ['registry.example.com:5000'] }),
      new RegistryHost('docker.io', { insecureRegistries: ['other:1'] }),
    ];
    expect(hosts.map((h) => h.insecure)).toEqual([true, false, true, false]);
    hosts.forEach((h) => h.close());
  });

  it('Docker Hub is reached at registry-1.docker.io; config keys map to hosts', () => {
    expect(endpointHost('docker.io')).toBe('registry-1.docker.io');
    expect(endpointHost('localhost:5000')).toBe('localhost:5000');
    expect(registryKeyHost('https://index.docker.io/v1/')).toBe('docker.io');
    expect(registryKeyHost('http://127.0.0.1:5000/v2/')).toBe('127.0.0.1:5000');
    expect(registryKeyHost('registry.example.com')).toBe('registry.example.com');
  });
});

describe('Docker config credentials', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gregc-'));
    // a credential helper speaking the docker-credential protocol: server URL on stdin, JSON out
    const helper = path.join(dir, 'docker-credential-gtest');
    fs.writeFileSync(
      helper,
      `#!/bin/sh\n[ "$1" = get ] || exit 1\nread server\ncase "$server" in\n  helped.example.com) echo '{"ServerURL":"helped.example.com","Username":"hu","Secret":"hs"}' ;;\n  token.example.com) echo '{"ServerURL":"token.example.com","Username":"<token>","Secret":"refresh-me"}' ;;\n  *) echo "credentials not found in native keychain"; exit 1 ;;\nesac\n`,
      { mode: 0o755 },
    );
    process.env.PATH = `${dir}:${process.env.PATH}`;
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads auths (base64 user:password), Docker Hub under its legacy key', async () => {
    const cfg = {
      auths: {
        'https://index.docker.io/v1/': { auth: Buffer.from('hub:pw:with:colons').toString('base64') },
        'http://127.0.0.1:5000': { auth: Buffer.from('a:b').toString('base64') },
      },
    };
    expect(await credentialsFromConfig(cfg, 'docker.io')).toEqual({ username: 'hub', password: 'pw:with:colons' });
    expect(await credentialsFromConfig(cfg, '127.0.0.1:5000')).toEqual({ username: 'a', password: 'b' });
    expect(await credentialsFromConfig(cfg, 'other.example.com')).toBeUndefined();
    expect(await credentialsFromConfig({ auths: { 'x.io': { identitytoken: 'idt' } } }, 'x.io')).toEqual({ identityToken: 'idt' });
  });

  it('asks credHelpers and credsStore through docker-credential-<name> get', async () => {
    expect(await credentialsFromConfig({ credHelpers: { 'helped.example.com': 'gtest' } }, 'helped.example.com')).toEqual({ username: 'hu', password: 'hs' });
    expect(await credentialsFromConfig({ credsStore: 'gtest' }, 'token.example.com')).toEqual({ identityToken: 'refresh-me' });
    // the helper has none: fall back to auths
    expect(await credentialsFromConfig({ credsStore: 'gtest', auths: { 'z.io': { auth: Buffer.from('u:p').toString('base64') } } }, 'z.io')).toEqual({
      username: 'u',
      password: 'p',
    });
    await expect(credentialsFromConfig({ credsStore: 'missing-helper' }, 'q.io')).rejects.toThrow(/docker-credential-missing-helper/);
  });
});
