/**
 * Docker's image endpoints end to end: a gantry-containerd (the built binary) on temporary dirs, gantryd's
 * API server with the image and system routes, driven by the real docker CLI (load, images,
 * inspect, history, tag, rmi, save, import, image prune) and by raw HTTP for the error answers.
 * Archives made by tools/make-busybox-bundle.sh and read back by skopeo.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { Logger } from '@gantry/linux';
import { Containerd } from '../src/containerd/client';
import type { EngineContext } from '../src/context';
import { EngineEvents, type EngineEvent } from '../src/events';
import { Router } from '../src/http/router';
import { ApiServer } from '../src/http/server';
import { imageUsage, registerImageRoutes } from '../src/routes/images';
import { Distribution } from '../src/images/distribution';
import { ImageService } from '../src/images/service';
import { registerSystemRoutes } from '../src/routes/system';
import { busyboxArchive, describeIf, needRoot, needTool, waitFor } from '@gantry/testkit';

const REPO = path.resolve(__dirname, '../../..');
const CONTAINERD_MAIN = path.join(REPO, 'packages/containerd/dist/main.js');
const d = describeIf(needRoot(), needTool('docker', 'docker.io'), needTool('skopeo'));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

d('image routes driven by the docker CLI (root)', () => {
  let dir: string;
  let daemon: ChildProcess;
  let server: ApiServer;
  let ctx: EngineContext;
  let sock: string;
  let toolArchive: string;
  const used = new Map<string, string[]>(); // image ID → container IDs (what the lead's inUse will answer)
  const events: EngineEvent[] = [];

  /** The docker CLI against our socket, asynchronously (the server runs in this process). */
  function docker(...args: string[]): Promise<Run> {
    return new Promise((resolve) => {
      execFile(
        'docker',
        args,
        {
          env: { ...process.env, DOCKER_HOST: `unix://${sock}`, DOCKER_CONFIG: path.join(dir, 'docker-config'), DOCKER_CLI_HINTS: 'false' },
          maxBuffer: 64 * 1024 * 1024,
        },
        (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
  }
  async function ok(...args: string[]): Promise<string> {
    const r = await docker(...args);
    if (r.code !== 0) throw new Error(`docker ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
    return r.stdout;
  }
  function request(method: string, p: string, body?: Buffer): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const req = http.request({ socketPath: sock, method, path: p, headers: body ? { 'Content-Length': body.length } : {} }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      });
      req.on('error', reject);
      req.end(body);
    });
  }
  const inspect = async (name: string) => JSON.parse(await ok('image', 'inspect', name)) as Record<string, unknown>[];

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gimgr-'));
    sock = path.join(dir, 'docker.sock');
    toolArchive = path.join(dir, 'tool.tar');
    busyboxArchive(toolArchive, 'gantry/busybox:latest');
    const daemonLog = path.join(dir, 'containerd.log');
    const logFd = fs.openSync(daemonLog, 'a');
    daemon = spawn(
      process.execPath,
      [CONTAINERD_MAIN, '--address', path.join(dir, 'c.sock'), '--root', path.join(dir, 'root'), '--state', path.join(dir, 'state'), '--log-level', 'error'],
      { stdio: ['ignore', logFd, logFd] },
    );
    fs.closeSync(logFd);
    await waitFor('gantry-containerd', () => {
      if (daemon.exitCode !== null) throw new Error(`gantry-containerd exited: ${fs.readFileSync(daemonLog, 'utf8')}`);
      return fs.existsSync(path.join(dir, 'c.sock'));
    });
    const log = new Logger('error');
    ctx = { log, cd: new Containerd(path.join(dir, 'c.sock')), events: new EngineEvents(), dataRoot: path.join(dir, 'data'), started: new Date() };
    ctx.events.subscribe((e) => events.push(e));
    const router = new Router();
    registerSystemRoutes(router, ctx, { counts: async () => ({ containers: 0, running: 0, paused: 0, stopped: 0, images: 0 }) });
    registerImageRoutes(router, ctx, { images: new ImageService(ctx.cd), inUse: (id) => used.get(id) ?? [] }, new Distribution(ctx.cd, []));
    server = new ApiServer(router, log);
    await server.listen(sock);
  }, 120000);

  afterAll(async () => {
    await server?.close();
    ctx?.cd.close();
    if (daemon && daemon.exitCode === null) {
      const exited = new Promise((resolve) => daemon.once('exit', resolve));
      daemon.kill('SIGTERM');
      await exited;
    }
    spawnSync('sh', ['-c', `grep -o " ${dir}[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l`]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('docker load reads a docker-archive, unpacks it and lists it with its size', async () => {
    const out = await ok('load', '-i', toolArchive);
    expect(out).toContain('Loaded image: gantry/busybox:latest');
    const list = await ok('images', '--format', '{{.Repository}}|{{.Tag}}|{{.ID}}|{{.Size}}');
    const row = list
      .trim()
      .split('\n')
      .find((l) => l.startsWith('gantry/busybox|latest|'));
    expect(row).toBeDefined();
    expect(row!.split('|')[3]).toMatch(/^\d+(\.\d+)?[kM]B$/);
    expect(events.some((e) => e.Type === 'image' && e.Action === 'load')).toBe(true);

    const raw = await request('GET', '/v1.45/images/json');
    const summaries = JSON.parse(raw.body.toString()) as { Id: string; RepoTags: string[]; RepoDigests: string[]; Size: number; Created: number }[];
    const s = summaries.find((x) => x.RepoTags.includes('gantry/busybox:latest'))!;
    expect(s.Id).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(s.RepoDigests[0]).toMatch(/^gantry\/busybox@sha256:[a-f0-9]{64}$/);
    expect(s.Size).toBeGreaterThan(500_000); // busybox unpacked
    const df = await imageUsage(new ImageService(ctx.cd));
    expect(df.map((x) => x.Id)).toContain(s.Id);
  }, 120000);

  it('docker image inspect and docker history describe it', async () => {
    const [img] = await inspect('gantry/busybox');
    expect(img!.Id).toMatch(/^sha256:/);
    expect(img!.RepoTags).toEqual(['gantry/busybox:latest']);
    expect(img!.Os).toBe('linux');
    expect((img!.RootFS as { Type: string; Layers: string[] }).Layers).toHaveLength(1);
    expect((img!.GraphDriver as { Name: string }).Name).toBe('overlayfs');
    // by ID prefix and full ID too
    const id = img!.Id as string;
    expect((await inspect(id.slice(7, 19)))[0]!.Id).toBe(id);
    expect((await inspect(id))[0]!.Id).toBe(id);
    const hist = await ok('history', '--no-trunc', '--format', '{{.ID}}|{{.Size}}', 'gantry/busybox:latest');
    expect(hist.trim().split('\n')[0]).toContain(id);
    // Container and ContainerConfig (dropped by dockerd at 1.45) at every version: docker-compose 1.29 negotiates 1.45 and reads them
    for (const v of ['1.38', '1.45']) {
      const at = JSON.parse((await request('GET', `/v${v}/images/gantry%2Fbusybox/json`)).body.toString()) as Record<string, unknown>;
      expect(at.Container).toBe('');
      expect(at.ContainerConfig).toMatchObject({ Volumes: null, Cmd: null, Image: '' });
    }
  }, 60000);

  it('docker tag adds a name; docker rmi of one tag only untags; rmi of an image in use is refused', async () => {
    await ok('tag', 'gantry/busybox:latest', 'localhost:5000/bb:v1');
    const [img] = await inspect('localhost:5000/bb:v1');
    expect((img!.RepoTags as string[]).sort()).toEqual(['gantry/busybox:latest', 'localhost:5000/bb:v1']);
    const rmi = await ok('rmi', 'localhost:5000/bb:v1');
    expect(rmi).toContain('Untagged: localhost:5000/bb:v1');
    expect(rmi).not.toContain('Deleted');
    expect((await inspect('gantry/busybox'))[0]!.RepoTags).toEqual(['gantry/busybox:latest']);
    expect(events.map((e) => e.Action)).toEqual(expect.arrayContaining(['tag', 'untag']));

    used.set(img!.Id as string, ['0123456789abcdef0123456789abcdef']);
    const refused = await docker('rmi', 'gantry/busybox:latest');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(`image is being used by stopped container 0123456789ab`);
    used.clear();
  }, 60000);

  it('docker save writes an archive skopeo reads; docker load of it is idempotent', async () => {
    const out = path.join(dir, 'saved.tar');
    await ok('save', '-o', out, 'gantry/busybox:latest');
    const sk = spawnSync('skopeo', ['inspect', `docker-archive:${out}`], { encoding: 'utf8' });
    expect(sk.status).toBe(0);
    expect((JSON.parse(sk.stdout) as { Layers: string[] }).Layers).toHaveLength(1);
    const before = (await inspect('gantry/busybox'))[0]!.Id;
    expect(await ok('load', '-i', out)).toContain('Loaded image: gantry/busybox:latest');
    expect((await inspect('gantry/busybox'))[0]!.Id).toBe(before);
    const ids = (await ok('images', '-q', '--no-trunc')).trim().split('\n');
    expect(ids.filter((x) => x === before)).toHaveLength(1);
    expect(events.some((e) => e.Action === 'save')).toBe(true);
  }, 120000);

  it('docker import builds a one-layer image with --change applied; prune removes dangling images', async () => {
    const root = path.join(dir, 'imp');
    fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
    fs.writeFileSync(path.join(root, 'etc', 'hello'), 'hi\n');
    const tar = path.join(dir, 'imp.tar');
    expect(spawnSync('tar', ['-C', root, '-cf', tar, '.']).status).toBe(0);
    const out = await ok('import', '--change', 'CMD ["sh"]', '--change', 'ENV A=b', '--change', 'WORKDIR /etc', '-m', 'hello', tar, 'imported:v1');
    expect(out.trim()).toMatch(/^sha256:[a-f0-9]{64}$/);
    const [img] = await inspect('imported:v1');
    const cfg = img!.Config as { Cmd: string[]; Env: string[]; WorkingDir: string };
    expect(cfg.Cmd).toEqual(['sh']);
    expect(cfg.Env).toEqual(['A=b']);
    expect(cfg.WorkingDir).toBe('/etc');
    expect(img!.Id).toBe(out.trim());
    expect(img!.Comment).toBe('hello');

    // gzipped, without a repository: an untagged (dangling) image
    const tgz = path.join(dir, 'imp.tgz');
    expect(spawnSync('tar', ['-C', root, '-czf', tgz, './etc']).status).toBe(0);
    const dangling = (await ok('import', tgz)).trim();
    expect(dangling).toMatch(/^sha256:/);
    // the tag moved to a new image: the old one stays, untagged
    const replaced = (await ok('import', '--change', 'CMD ["true"]', tar, 'imported:v1')).trim();
    expect((await inspect('imported:v1'))[0]!.Id).toBe(replaced);
    expect((await inspect(out.trim()))[0]!.RepoTags as string[]).toEqual([]);
    const listed = await ok('images', '--filter', 'dangling=true', '-q', '--no-trunc');
    expect(listed.trim().split('\n').sort()).toEqual([dangling, out.trim()].sort());
    expect(events.some((e) => e.Action === 'import')).toBe(true);

    const pruned = await ok('image', 'prune', '-f');
    expect(pruned).toContain(`deleted: ${dangling}`);
    expect(pruned).toContain(`deleted: ${out.trim()}`);
    expect((await ok('images', '-q', '--no-trunc')).trim().split('\n')).not.toContain(dangling);
    expect((await inspect('imported:v1'))[0]!.Id).toBe(replaced);

    const rm = await ok('rmi', 'imported:v1');
    expect(rm).toContain('Untagged: imported:v1');
    expect(rm).toContain(`Deleted: ${replaced}`);
    // garbage collected synchronously: the config blob and the layer's snapshot are gone
    const cd = ctx.cd;
    await expect(cd.call(cd.content, cd.content.info, { digest: replaced })).rejects.toMatchObject({ message: expect.stringMatching(/not found/) });
    const layer = (img!.RootFS as { Layers: string[] }).Layers[0]!;
    await expect(cd.call(cd.snapshots, cd.snapshots.stat, { snapshotter: 'overlayfs', key: layer })).rejects.toMatchObject({
      message: expect.stringMatching(/not found/),
    });
  }, 120000);

  it('answers bad input as Docker does', async () => {
    const missing = await request('GET', '/v1.45/images/nope:1/json');
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body.toString())).toEqual({ message: 'No such image: nope:1' });
    const missingRm = await request('DELETE', '/v1.45/images/nope');
    expect(missingRm.status).toBe(404);
    expect(JSON.parse(missingRm.body.toString()).message).toBe('No such image: nope:latest');
    const badTag = await request('POST', '/v1.45/images/gantry%2Fbusybox/tag?repo=Bad%20Repo&tag=x');
    expect(badTag.status).toBe(400);
    expect(JSON.parse(badTag.body.toString()).message).toMatch(/invalid reference format/);
    const badTagMissing = await request('POST', '/v1.45/images/nope/tag?repo=ok&tag=1');
    expect(badTagMissing.status).toBe(404);
    const badTag2 = await request('POST', '/v1.45/images/gantry%2Fbusybox/tag?repo=ok&tag=-bad');
    expect(badTag2.status).toBe(400);
    const badFilter = await request('GET', `/v1.45/images/json?filters=${encodeURIComponent('{"nope":{"x":true}}')}`);
    expect(badFilter.status).toBe(400);
    const pull = await request('POST', '/v1.45/images/create?fromImage=Busy%20Box&tag=latest');
    expect(pull.status).toBe(400);
    expect(JSON.parse(pull.body.toString()).message).toMatch(/invalid reference format/);
    const notTar = await request('POST', '/v1.45/images/create?fromSrc=-&repo=x', Buffer.from('this is not a tarball at all'.repeat(40)));
    expect(notTar.status).toBe(400);
    const badLoad = await request('POST', '/v1.45/images/load', Buffer.from('garbage'.repeat(200)));
    expect(badLoad.status).toBe(400);
    const badChange = await request('POST', '/v1.45/images/create?fromSrc=-&changes=FROM%20x', Buffer.alloc(1024));
    expect(badChange.status).toBe(400);
    expect(JSON.parse(badChange.body.toString()).message).toBe('FROM is not a valid change command');
    // a URL import is downloaded by the daemon: http(s) only; an unreachable one is the daemon's error
    const ftp = await request('POST', `/v1.45/images/create?fromSrc=${encodeURIComponent('ftp://127.0.0.1/a.tar')}`);
    expect(ftp.status).toBe(400);
    expect(JSON.parse(ftp.body.toString()).message).toBe('unsupported import source scheme ftp');
    const gone = await request('POST', `/v1.45/images/create?fromSrc=${encodeURIComponent('127.0.0.1:1/a.tar')}`);
    expect(gone.status).toBeGreaterThanOrEqual(500);
    expect(JSON.parse(gone.body.toString()).message).toMatch(/^error downloading http:\/\/127\.0\.0\.1:1\/a\.tar: /);
  }, 60000);
});
