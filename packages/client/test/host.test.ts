import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_UNIX_SOCKET } from '@gantry/engine-api';
import { configFromEnv, formatHost, HostParseError, parseHost } from '../src/host';
import { EngineClient } from '../src/client';

describe('parseHost', () => {
  it.each([
    ['unix:///tmp/x.sock', { proto: 'unix', socketPath: '/tmp/x.sock' }],
    ['/tmp/x.sock', { proto: 'unix', socketPath: '/tmp/x.sock' }],
    ['unix://', { proto: 'unix', socketPath: DEFAULT_UNIX_SOCKET }],
    ['tcp://10.0.0.1:1234', { proto: 'tcp', host: '10.0.0.1', port: 1234 }],
    ['tcp://example.org', { proto: 'tcp', host: 'example.org', port: 2375 }],
    ['tcp://:2376', { proto: 'tcp', host: '127.0.0.1', port: 2376 }],
    ['tcp://[::1]:99/', { proto: 'tcp', host: '::1', port: 99 }],
    ['https://h', { proto: 'tcp', host: 'h', port: 2376 }],
  ])('%s', (value, want) => {
    expect(parseHost(value)).toEqual(want);
  });

  it('takes 2376 as the default TCP port with TLS', () => {
    expect(parseHost('tcp://h', true)).toEqual({ proto: 'tcp', host: 'h', port: 2376 });
  });

  it.each(['ssh://u@h', 'unix://rel/x', 'tcp://h:0', 'tcp://h:99999', 'tcp://h:12/api', 'nonsense'])('refuses %s', (value) => {
    expect(() => parseHost(value)).toThrow(HostParseError);
  });

  it('formats addresses back', () => {
    expect(formatHost(parseHost('tcp://[::1]:9'))).toBe('tcp://[::1]:9');
    expect(formatHost(parseHost('/a.sock'))).toBe('unix:///a.sock');
  });
});

describe('configFromEnv', () => {
  it('prefers GANTRY_HOST, then DOCKER_HOST, then the default socket', () => {
    expect(configFromEnv({ GANTRY_HOST: 'unix:///g', DOCKER_HOST: 'unix:///d' }).host).toBe('unix:///g');
    expect(configFromEnv({ GANTRY_HOST: '', DOCKER_HOST: 'unix:///d' }).host).toBe('unix:///d');
    expect(configFromEnv({}).host).toBe(`unix://${DEFAULT_UNIX_SOCKET}`);
  });

  it('reads ca.pem, cert.pem and key.pem from DOCKER_CERT_PATH when DOCKER_TLS_VERIFY is set', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'client-certs-'));
    try {
      for (const f of ['ca.pem', 'cert.pem', 'key.pem']) fs.writeFileSync(path.join(dir, f), f);
      const c = configFromEnv({ DOCKER_HOST: 'tcp://h:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: dir, DOCKER_API_VERSION: '1.41' });
      expect(c.tls?.verify).toBe(true);
      expect(c.tls?.ca?.toString()).toBe('ca.pem');
      expect(c.tls?.key?.toString()).toBe('key.pem');
      expect(c.apiVersion).toBe('1.41');
      expect(configFromEnv({ DOCKER_CERT_PATH: dir }).tls).toBeUndefined();
    } finally {
      fs.rmSync(dir, { recursive: true });
    }
  });

  it('gives the client its host from the environment', () => {
    expect(new EngineClient({ env: { DOCKER_HOST: 'tcp://1.2.3.4:5' } }).host).toBe('tcp://1.2.3.4:5');
    expect(new EngineClient({ env: { DOCKER_HOST: 'tcp://1.2.3.4:5' }, host: '/x.sock' }).host).toBe('unix:///x.sock');
  });
});

describe('TLS from the environment', () => {
  it('applies DOCKER_TLS_VERIFY to a host given as an option too, as the docker CLI does', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'client-tls-'));
    try {
      const env = { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: dir };
      // TLS picks 2376 as the default port
      expect(new EngineClient({ env, host: 'tcp://h' }).host).toBe('tcp://h:2376');
      expect(new EngineClient({ env: {}, host: 'tcp://h' }).host).toBe('tcp://h:2375');
    } finally {
      fs.rmSync(dir, { recursive: true });
    }
  });
});
