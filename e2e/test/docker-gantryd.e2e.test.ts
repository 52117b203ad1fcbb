/**
 * The real docker CLI (28.x) against gantryd started by the test on a temporary socket, data root
 * and exec root (gantryd runs its own gantry-containerd there).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { unixRequest } from '../src/http';
import { waitFor } from '@gantry/testkit';
import { bundleTool, repoRoot } from '../src/paths';

const GANTRYD = join(repoRoot, 'bin', 'gantryd');

describe('docker CLI against gantryd', () => {
  let dir: string;
  let sock: string;
  let daemon: ChildProcess;

  const docker = (args: string[], input?: string) => {
    const r = spawnSync('docker', args, {
      encoding: 'utf8',
      timeout: 60000,
      killSignal: 'SIGKILL',
      input,
      env: { ...process.env, DOCKER_HOST: `unix://${sock}`, DOCKER_CONFIG: join(dir, 'cfg'), DOCKER_CLI_HINTS: 'false' },
    });
    return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  };
  const ok = (args: string[], input?: string): string => {
    const r = docker(args, input);
    if (r.status !== 0)
      throw new Error(
        `docker ${args.join(' ')}: exit ${r.status}: ${r.stderr}\n${fs.readFileSync(join(dir, 'gantryd.log'), 'utf8').split('\n').slice(-15).join('\n')}`,
      );
    return r.stdout;
  };
  const request = async (method: string, path: string, body?: string) => {
    const r = await unixRequest(
      sock,
      method,
      path,
      body,
      body !== undefined ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } : {},
    );
    return { status: r.status, body: r.body.toString() };
  };

  beforeAll(async () => {
    dir = fs.mkdtempSync('/tmp/gdx-');
    sock = join(dir, 'g.sock');
    const log = fs.openSync(join(dir, 'gantryd.log'), 'a');
    daemon = spawn(GANTRYD, ['-H', `unix://${sock}`, '--data-root', join(dir, 'data'), '--exec-root', join(dir, 'run')], { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    const deadline = Date.now() + 30000;
    while (!fs.existsSync(sock)) {
      if (Date.now() > deadline || daemon.exitCode !== null) throw new Error(`gantryd did not start: ${fs.readFileSync(join(dir, 'gantryd.log'), 'utf8')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const made = spawnSync('bash', [bundleTool, join(dir, 'b'), '--args', 'sh', '--docker-archive', join(dir, 'bb.tar'), '--name', 'busybox:latest'], {
      encoding: 'utf8',
    });
    if (made.status !== 0) throw new Error(made.stderr);
  }, 60000);

  afterAll(async () => {
    for (const id of docker(['ps', '-aq']).stdout.split('\n').filter(Boolean)) docker(['rm', '-f', id]);
    if (daemon && daemon.exitCode === null) {
      daemon.kill('SIGTERM');
      await new Promise((r) => daemon.once('exit', r));
    }
    // shims started for this test name its directory on their command line
    for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      try {
        if (fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir)) process.kill(Number(pid), 'SIGKILL');
      } catch {
        // gone
      }
    }
    spawnSync('sh', ['-c', `grep -o " ${dir}[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l`]);
    fs.rmSync(dir, { recursive: true, force: true });
  }, 60000);

  test('version and info report gantryd', () => {
    expect(ok(['version', '--format', '{{.Server.APIVersion}}']).trim()).toBe('1.45');
    expect(ok(['info', '--format', '{{.ServerVersion}} {{.Driver}}']).trim()).toBe('0.1.0 overlayfs');
  });

  test('load, images, run --rm with output and exit code', () => {
    expect(ok(['load', '-i', join(dir, 'bb.tar')])).toContain('Loaded image: busybox:latest');
    expect(ok(['images', '--format', '{{.Repository}}:{{.Tag}}'])).toContain('busybox:latest');
    expect(ok(['run', '--rm', 'busybox', 'echo', 'hello'])).toBe('hello\n');
    expect(docker(['run', '--rm', 'busybox', 'sh', '-c', 'exit 7']).status).toBe(7);
    expect(ok(['ps', '-aq']).trim()).toBe('');
  });

  test('run -d, ps, logs, exec, top, pause, rename, stop, rm', async () => {
    const id = ok(['run', '-d', '--name', 'ticker', 'busybox', 'sh', '-c', 'i=0; while :; do echo tick $i; i=$((i+1)); sleep 0.2; done']).trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(ok(['ps', '-q'])).toContain(id.slice(0, 12));
    expect(ok(['ps', '--filter', 'name=ticker', '--format', '{{.Names}} {{.Status}}'])).toMatch(/^ticker Up /);
    await waitFor('the first ticks in the log', () => /^tick 1$/m.test(ok(['logs', 'ticker'])));
    expect(ok(['logs', '--tail', '1', 'ticker'])).toMatch(/^tick \d+\n$/);
    expect(ok(['logs', '-t', 'ticker']).split('\n')[0]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z tick 0$/);
    const ex = docker(['exec', 'ticker', 'sh', '-c', 'echo in-exec; exit 3']);
    expect(ex).toMatchObject({ status: 3, stdout: 'in-exec\n' });
    expect(ok(['top', 'ticker'])).toContain('while :');
    ok(['pause', 'ticker']);
    expect(ok(['inspect', '--format', '{{.State.Status}}', 'ticker']).trim()).toBe('paused');
    ok(['unpause', 'ticker']);
    ok(['rename', 'ticker', 'tocker']);
    expect(ok(['inspect', '--format', '{{.Name}} {{.State.Running}}', 'tocker']).trim()).toBe('/tocker true');
    ok(['stop', '-t', '1', 'tocker']);
    expect(ok(['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', 'tocker']).trim()).toBe('exited 137');
    expect(ok(['ps', '-a', '--filter', 'status=exited', '--format', '{{.Names}}'])).toContain('tocker');
    ok(['rm', 'tocker']);
    expect(docker(['inspect', 'tocker']).status).not.toBe(0);
  });

  test('bad input gets Docker status codes and messages, and the daemon keeps serving', async () => {
    expect(await request('POST', '/v1.45/containers/create', '{not json')).toMatchObject({ status: 400 });
    const unknown = await request('GET', '/v1.45/containers/nope/json');
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.body)).toEqual({ message: 'No such container: nope' });
    // as dockerd (a Go JSON decoder): an unknown field is ignored, a known one of the wrong type is a 400
    const bogus = await request('POST', '/v1.45/containers/create', JSON.stringify({ Image: 'busybox', Bogus: 1 }));
    expect(bogus.status).toBe(201);
    ok(['rm', (JSON.parse(bogus.body) as { Id: string }).Id]);
    const wrongType = await request('POST', '/v1.45/containers/create', JSON.stringify({ Image: 'busybox', Cmd: 5 }));
    expect(wrongType.status).toBe(400);
    expect((JSON.parse(wrongType.body) as { message: string }).message).not.toBe('');
    expect((await request('POST', '/v1.45/containers/create?name=bad/name', JSON.stringify({ Image: 'busybox' }))).status).toBe(400);
    ok(['create', '--name', 'taken', 'busybox', 'true']);
    const dup = docker(['create', '--name', 'taken', 'busybox', 'true']);
    expect(dup.status).not.toBe(0);
    expect(dup.stderr).toMatch(/Conflict. The container name "\/taken" is already in use/);
    expect((await request('GET', '/v1.99/version')).status).toBe(400);
    ok(['rm', 'taken']);
    expect((await request('GET', '/_ping')).body).toBe('OK');
  });
});
