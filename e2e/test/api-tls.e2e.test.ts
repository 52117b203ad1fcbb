/**
 * The API's doors with real clients: gantryd on a unix socket and on tcp://127.0.0.1:<port> with
 * mutual TLS (a CA, server and client certificates made by openssl for this test). The docker CLI
 * with DOCKER_TLS_VERIFY/DOCKER_CERT_PATH runs `version` and `run --rm` over TCP; a client without
 * a certificate, or with one from another CA, is refused; plain TCP on a non-loopback address is
 * refused at start; the unix socket is 0660 root:docker (or root:root without a docker group).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as https from 'node:https';
import { join } from 'node:path';
import { collectOutput, ConnectionError, EngineClient } from '@gantry/client';
import { GANTRYD, GantrydHarness } from '../src/gantryd';
import { freePort } from '@gantry/testkit';
import { makePki, type Pki } from '@gantry/testkit';
import { describeIf, needRoot, needTool } from '@gantry/testkit';

const d = describeIf(needRoot(), needTool('openssl'), needTool('docker', 'docker.io'));

/** The gid the socket must have: the docker group's when it exists (gantryd's default -G), else root's. */
function dockerGid(): number {
  const line = fs
    .readFileSync('/etc/group', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('docker:'));
  return line ? Number(line.split(':')[2]) : 0;
}

d('gantryd over TCP with mutual TLS, and its unix socket', () => {
  let h: GantrydHarness;
  let pkiDir: string;
  let pki: Pki;
  let other: Pki;
  let port: number;

  beforeAll(async () => {
    pkiDir = fs.mkdtempSync('/tmp/gtls-pki-');
    pki = makePki(join(pkiDir, 'ours'));
    other = makePki(join(pkiDir, 'other'), 'intruder');
    port = await freePort();
    h = await GantrydHarness.start('gtls-', [
      '-H',
      `tcp://127.0.0.1:${port}`,
      '--tlsverify',
      '--tlscacert',
      pki.ca,
      '--tlscert',
      pki.serverCert,
      '--tlskey',
      pki.serverKey,
    ]);
    h.loadBusybox();
  }, 120000);

  afterAll(async () => {
    await h?.stop();
    if (pkiDir) fs.rmSync(pkiDir, { recursive: true, force: true });
  }, 60000);

  const overTls = (args: string[]) => {
    const env = { ...h.env(), DOCKER_HOST: `tcp://127.0.0.1:${port}`, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: pki.dir };
    const r = spawnSync('docker', args, { encoding: 'utf8', timeout: 60000, killSignal: 'SIGKILL', env });
    return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  };

  const ping = (o: https.RequestOptions): Promise<number> =>
    new Promise((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port, path: '/_ping', agent: false, ca: fs.readFileSync(pki.ca), ...o }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end();
    });

  it('the unix socket is mode 0660, owned by root and the docker group (root only without one)', () => {
    const st = fs.lstatSync(h.sock);
    expect({ socket: st.isSocket(), mode: (st.mode & 0o7777).toString(8), uid: st.uid, gid: st.gid }).toEqual({
      socket: true,
      mode: '660',
      uid: 0,
      gid: dockerGid(),
    });
    expect(fs.readdirSync(h.dir).filter((n) => n.startsWith('.g-'))).toEqual([]); // no temporary directory left
  });

  it('docker version and docker run --rm work over tcp:// with the client certificate', () => {
    const v = overTls(['version', '--format', '{{.Server.APIVersion}}']);
    expect(v).toMatchObject({ status: 0, stdout: '1.45\n' });
    const run = overTls(['run', '--rm', 'busybox', 'true']);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const echo = overTls(['run', '--rm', 'busybox', 'echo', 'over-tls']); // attach's hijacked stream over TLS
    expect(echo).toMatchObject({ status: 0, stdout: 'over-tls\n' });
  });

  it('a client with the CA but no certificate is refused, as is one whose certificate another CA signed', async () => {
    expect(await ping({ cert: fs.readFileSync(pki.clientCert), key: fs.readFileSync(pki.clientKey) })).toBe(200); // control
    await expect(ping({})).rejects.toThrow(/certificate|socket hang up|ECONNRESET/i);
    await expect(ping({ cert: fs.readFileSync(other.clientCert), key: fs.readFileSync(other.clientKey) })).rejects.toThrow(
      /certificate|unknown ca|socket hang up|ECONNRESET/i,
    );
    // the docker CLI with the other CA's client pair (and our CA, so that it trusts the server)
    const mixed = join(pkiDir, 'mixed');
    fs.mkdirSync(mixed);
    fs.copyFileSync(pki.ca, join(mixed, 'ca.pem'));
    fs.copyFileSync(other.clientCert, join(mixed, 'cert.pem'));
    fs.copyFileSync(other.clientKey, join(mixed, 'key.pem'));
    const r = spawnSync('docker', ['version', '--format', '{{.Server.APIVersion}}'], {
      encoding: 'utf8',
      timeout: 30000,
      killSignal: 'SIGKILL',
      env: { ...h.env(), DOCKER_HOST: `tcp://127.0.0.1:${port}`, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: mixed },
    });
    expect(r.status).not.toBe(0);
    expect(r.stdout).not.toContain('1.45');
  });

  it('@gantry/client over tcp:// with DOCKER_TLS_VERIFY and DOCKER_CERT_PATH: calls, logs and a hijacked exec with stdin half-closed', async () => {
    const client = new EngineClient({ env: { DOCKER_HOST: `tcp://127.0.0.1:${port}`, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: pki.dir } });
    expect(client.host).toBe(`tcp://127.0.0.1:${port}`);
    expect(await client.apiVersion()).toBe('1.45');
    const { Id } = await client.containers.create({ Image: 'busybox', Cmd: ['sleep', '300'] });
    try {
      await client.containers.start(Id);
      const ex = await client.exec.create(Id, { Cmd: ['sh', '-c', 'cat; echo eof-seen >&2'], AttachStdin: true, AttachStdout: true, AttachStderr: true });
      const s = await client.exec.start(ex.Id);
      s.socket.end('through TLS\n'); // close_notify + FIN: stdin ends, the output still comes back
      expect(await collectOutput(s.output)).toEqual({ stdout: 'through TLS\n', stderr: 'eof-seen\n' });
    } finally {
      await client.containers.remove(Id, { force: true });
    }
    // without a client certificate the daemon refuses the connection: a ConnectionError naming the host
    const noCert = new EngineClient({ host: `tcp://127.0.0.1:${port}`, tls: { ca: fs.readFileSync(pki.ca), verify: true }, env: {} });
    const err = await noCert.system.version().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect(String(err)).toContain(`Cannot connect to the Gantry daemon at tcp://127.0.0.1:${port}`);
  });

  it('plain TCP on a non-loopback address is refused at start, before anything runs', () => {
    const dir = fs.mkdtempSync('/tmp/gtls-refuse-');
    try {
      const r = spawnSync(GANTRYD, ['-H', 'tcp://0.0.0.0:0', '--data-root', join(dir, 'data'), '--exec-root', join(dir, 'run')], {
        encoding: 'utf8',
        timeout: 30000,
        killSignal: 'SIGKILL',
      });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('refusing to listen on tcp://0.0.0.0:0');
      expect(r.stderr).toContain('--insecure-tcp');
      expect(fs.existsSync(join(dir, 'data'))).toBe(false); // refused before anything started
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
