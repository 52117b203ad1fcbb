/**
 * `-H fd://` (systemd socket activation): parsing, the LISTEN_* variables (read once, for our pid
 * only, removed so children do not inherit them), which sockets an address selects, and serving
 * on a listening socket handed over as an fd with its mode untouched.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { F, Logger, linuxSys } from '@gantry/linux';
import { parseFlags } from '../src/flags';
import { ListenerConfigError, parseHost, prepareListeners } from '../src/http/listeners';
import { Reply, Router } from '../src/http/router';
import { ApiServer } from '../src/http/server';
import { selectActivated, takeActivatedSockets } from '../src/http/socket-activation';

const log = new Logger('error');

describe('-H fd://', () => {
  it('parses fd://, fd://<number> and fd://<name>', () => {
    expect(parseHost('fd://')).toEqual({ proto: 'fd', which: '' });
    expect(parseHost('fd://3')).toEqual({ proto: 'fd', which: '3' });
    expect(parseHost('FD://gantryd.socket')).toEqual({ proto: 'fd', which: 'gantryd.socket' });
    for (const bad of ['fd://a:b', 'fd://a/b', 'fd://a b']) expect(() => parseHost(bad)).toThrow(ListenerConfigError);
    const f = parseFlags(['-H', 'fd://', '-H', 'unix:///tmp/x.sock']);
    expect(f !== 'help' && f.hosts).toEqual([
      { proto: 'fd', which: '' },
      { proto: 'unix', path: '/tmp/x.sock' },
    ]);
  });

  it('reads LISTEN_PID/LISTEN_FDS/LISTEN_FDNAMES for its own pid only, and removes them in every case', () => {
    const env: NodeJS.ProcessEnv = { LISTEN_PID: '42', LISTEN_FDS: '3', LISTEN_FDNAMES: 'gantryd.socket:extra', PATH: '/bin' };
    expect(takeActivatedSockets(env, 42)).toEqual([
      { fd: 3, name: 'gantryd.socket' },
      { fd: 4, name: 'extra' },
      { fd: 5, name: 'unknown' },
    ]);
    expect(env).toEqual({ PATH: '/bin' });

    const forOther: NodeJS.ProcessEnv = { LISTEN_PID: '41', LISTEN_FDS: '1' };
    expect(takeActivatedSockets(forOther, 42)).toEqual([]);
    expect(forOther).toEqual({});
    expect(takeActivatedSockets({ LISTEN_FDS: '1' }, 42)).toEqual([]);
    expect(takeActivatedSockets({}, 42)).toEqual([]);
    expect(() => takeActivatedSockets({ LISTEN_PID: '42', LISTEN_FDS: 'x' }, 42)).toThrow(ListenerConfigError);
  });

  it('selects all sockets, one by fd number, or those of a name; says why when none fits', () => {
    const s = [
      { fd: 3, name: 'api' },
      { fd: 4, name: 'api' },
      { fd: 5, name: 'other' },
    ];
    expect(selectActivated(s, '')).toEqual(s);
    expect(selectActivated(s, '4')).toEqual([{ fd: 4, name: 'api' }]);
    expect(selectActivated(s, 'api').map((x) => x.fd)).toEqual([3, 4]);
    expect(() => selectActivated(s, '7')).toThrow(/fd 7 was not passed.*3, 4, 5/);
    expect(() => selectActivated(s, 'nope')).toThrow(/no socket named nope.*api, other/);
    expect(() => selectActivated([], '')).toThrow(/no sockets passed by the service manager/);
  });

  it('turns fd hosts into specs once per fd, marking each close-on-exec', async () => {
    const marked: number[] = [];
    let taken = 0;
    const specs = await prepareListeners({
      hosts: [parseHost('fd://'), parseHost('fd://3')],
      activated: () => {
        taken++;
        return [
          { fd: 3, name: 'a' },
          { fd: 4, name: 'b' },
        ];
      },
      cloexec: (fd) => marked.push(fd),
    });
    expect(taken).toBe(1);
    expect(specs).toEqual([
      { proto: 'fd', fd: 3, name: 'a', tls: undefined, insecureTcp: false },
      { proto: 'fd', fd: 4, name: 'b', tls: undefined, insecureTcp: false },
    ]);
    expect(marked).toEqual([3, 4]);
    await expect(prepareListeners({ hosts: [parseHost('fd://')], activated: () => [], cloexec: () => undefined })).rejects.toThrow(ListenerConfigError);
  });
});

describe('serving on a passed socket', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gfd-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  /**
   * A listening unix socket as a bare fd, as systemd hands it over: bound by a Node server whose
   * fd is duplicated, then that server closed (its socket file moved away first, since closing a
   * bound pipe unlinks its path). e2e/test/install passes one with systemd-socket-activate.
   */
  const listeningFd = async (sock: string): Promise<number> => {
    const owner = net.createServer();
    await new Promise<void>((r) => owner.listen(`${sock}.tmp`, r));
    const fd = linuxSys().fcntlInt((owner as unknown as { _handle: { fd: number } })._handle.fd, F.DUPFD_CLOEXEC, 3);
    fs.renameSync(`${sock}.tmp`, sock);
    await new Promise<void>((r) => owner.close(() => r()));
    return fd;
  };

  it('answers GET /_ping on the fd, leaves the socket mode as it was, and does not remove the socket on close', async () => {
    const sock = path.join(dir, 'api.sock');
    const fd = await listeningFd(sock);
    fs.chmodSync(sock, 0o640);
    const router = new Router();
    router.get('/_ping', () => new Reply(200, 'OK'));
    const server = new ApiServer(router, log);
    expect(await server.listen({ proto: 'fd', fd, name: 'api', insecureTcp: false })).toBe(`fd://${fd}`);
    const body = await new Promise<string>((resolve, reject) => {
      http
        .get({ socketPath: sock, path: '/_ping' }, (res) => {
          let b = '';
          res.on('data', (c: Buffer) => (b += c.toString()));
          res.on('end', () => resolve(b));
        })
        .on('error', reject);
    });
    expect(body.trim()).toBe('"OK"');
    expect(fs.statSync(sock).mode & 0o777).toBe(0o640);
    await server.close();
    expect(fs.lstatSync(sock).isSocket()).toBe(true);
  });
});
