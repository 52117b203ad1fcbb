/**
 * Test fixtures: a gantry-containerd on temp dirs with the store clients, Debian's
 * docker-registry on 127.0.0.1:<free port> (optionally with htpasswd auth), and the offline
 * busybox image loaded through the Archives service.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { credentials, type ServiceError } from '@grpc/grpc-js';
import { archives, content, diff, images, leases, namespaceMetadata, snapshots } from '@gantry/api';
import { ContainerdStore, type StoreClients } from '../src';
import { needFile } from '../../../tools/testing/requirements';

const REPO = path.resolve(__dirname, '../../..');
const CONTAINERD_MAIN = path.join(REPO, 'packages/containerd/dist/main.js');
const REGISTRY_BIN = '/usr/bin/docker-registry';
/** docker-registry (distribution 2.8), which TestRegistry runs. */
export const needRegistry = () => needFile(REGISTRY_BIN, 'Debian package docker-registry; tools/install-deps.sh installs it');

export function run(cmd: string, args: string[], input?: string): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input, maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function waitFor(what: string, fn: () => Promise<boolean> | boolean, timeoutMs = 20000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const httpStatus = (url: string) =>
  new Promise<number>((resolve) => {
    http.get(url, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', () => resolve(0));
  });

export class TestRegistry {
  proc?: ChildProcess;
  constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** `docker-registry serve` with filesystem storage under `dir`; `users` adds htpasswd (bcrypt) auth. */
  static async start(dir: string, users?: Record<string, string>): Promise<TestRegistry> {
    fs.mkdirSync(dir, { recursive: true });
    const reg = new TestRegistry(dir, await freePort());
    let auth = '';
    if (users) {
      const file = path.join(dir, 'htpasswd');
      fs.writeFileSync(file, Object.entries(users).map(([u, p]) => run('htpasswd', ['-Bbn', u, p]).trim()).join('\n') + '\n');
      auth = `auth:\n  htpasswd:\n    realm: gantry-test\n    path: ${file}\n`;
    }
    const config = path.join(dir, 'config.yml');
    fs.writeFileSync(
      config,
      `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${path.join(dir, 'data')}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${reg.port}\n${auth}`,
    );
    const log = fs.openSync(path.join(dir, 'registry.log'), 'a');
    reg.proc = spawn(REGISTRY_BIN, ['serve', config], { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    await waitFor('docker-registry', async () => {
      if (reg.proc!.exitCode !== null) throw new Error(`docker-registry exited: ${fs.readFileSync(path.join(dir, 'registry.log'), 'utf8')}`);
      return (await httpStatus(`http://${reg.host}/v2/`)) !== 0;
    });
    return reg;
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (p && p.exitCode === null && p.signalCode === null) {
      const gone = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await gone;
    }
  }
}

/** A gantry-containerd of the test's own, and store clients on it. */
export class TestContainerd {
  proc?: ChildProcess;
  clients!: StoreClients;
  archives!: archives.ArchivesClient;

  constructor(readonly dir: string) {}

  get socket(): string {
    return path.join(this.dir, 'c.sock');
  }

  async start(): Promise<void> {
    const log = fs.openSync(path.join(this.dir, 'containerd.log'), 'a');
    this.proc = spawn(process.execPath, [CONTAINERD_MAIN, '--address', this.socket, '--root', path.join(this.dir, 'root'), '--state', path.join(this.dir, 'state'), '--log-level', 'info'], { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    await waitFor('gantry-containerd', () => {
      if (this.proc!.exitCode !== null) throw new Error(`gantry-containerd exited: ${fs.readFileSync(path.join(this.dir, 'containerd.log'), 'utf8')}`);
      return fs.existsSync(this.socket);
    });
    const addr = `unix://${this.socket}`;
    const c = credentials.createInsecure();
    const big = { 'grpc.max_receive_message_length': 64 << 20, 'grpc.max_send_message_length': 64 << 20 };
    this.clients = {
      content: new content.ContentClient(addr, c, big),
      images: new images.ImagesClient(addr, c),
      leases: new leases.LeasesClient(addr, c),
      snapshots: new snapshots.SnapshotsClient(addr, c),
      diff: new diff.DiffClient(addr, c),
    };
    this.archives = new archives.ArchivesClient(addr, c, big);
  }

  store(ns: string): ContainerdStore {
    return new ContainerdStore(this.clients, ns);
  }

  /** `docker load` of a docker-archive into `ns`, unpacked. */
  load(ns: string, archive: Buffer): Promise<archives.ImportResponse> {
    return new Promise((resolve, reject) => {
      const call = this.archives.import(namespaceMetadata(ns), (err: ServiceError | null, res?: archives.ImportResponse) => (err ? reject(err) : resolve(res!)));
      for (let i = 0; i < archive.length || i === 0; i += 1 << 20) call.write(archives.ImportRequest.fromPartial(i === 0 ? { unpack: true, data: archive.subarray(i, i + (1 << 20)) } : { data: archive.subarray(i, i + (1 << 20)) }));
      call.end();
    });
  }

  async stop(): Promise<void> {
    for (const c of Object.values(this.clients ?? {})) c.close();
    this.archives?.close();
    const p = this.proc;
    if (p && p.exitCode === null && p.signalCode === null) {
      const gone = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await gone;
    }
    spawnSync('sh', ['-c', `grep -o " ${this.dir}[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l`]);
  }
}

/** The offline busybox image as a docker-archive named `name`. */
export function busyboxArchive(dir: string, name: string): Buffer {
  const file = path.join(dir, `bb-${Math.random().toString(36).slice(2, 8)}.tar`);
  run('bash', [path.join(REPO, 'tools/make-busybox-bundle.sh'), path.join(dir, `bundle-${path.basename(file, '.tar')}`), '--args', 'sh', '--docker-archive', file, '--name', name]);
  return fs.readFileSync(file);
}

/** Delete image records and collect garbage (the content goes, as after `docker rmi`). */
export async function removeImage(store: ContainerdStore, name: string): Promise<void> {
  const c = store.clients.images;
  await store.call<images.DeleteImageRequest, unknown>(c, c.delete, { name, sync: true });
}
