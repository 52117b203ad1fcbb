/**
 * Test fixtures: a gantry-containerd on temp dirs with the store clients, Debian's
 * docker-registry on 127.0.0.1:<free port> (optionally with htpasswd auth), and the offline
 * busybox image loaded through the Archives service.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { credentials, type ServiceError } from '@grpc/grpc-js';
import { archives, content, diff, images, leases, namespaceMetadata, snapshots } from '@gantry/api';
import { ContainerdStore, type StoreClients } from '../src';
import { busyboxArchive as makeBusyboxArchive, LocalRegistry, needRegistry, waitFor } from '@gantry/testkit';

/** Debian's docker-registry on a free loopback port (the shared one from @gantry/testkit). */
export { LocalRegistry, needRegistry };

const REPO = path.resolve(__dirname, '../../..');
const CONTAINERD_MAIN = path.join(REPO, 'packages/containerd/dist/main.js');

export function run(cmd: string, args: string[], input?: string): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input, maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
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
    this.proc = spawn(
      process.execPath,
      [CONTAINERD_MAIN, '--address', this.socket, '--root', path.join(this.dir, 'root'), '--state', path.join(this.dir, 'state'), '--log-level', 'info'],
      { stdio: ['ignore', log, log] },
    );
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
      const call = this.archives.import(namespaceMetadata(ns), (err: ServiceError | null, res?: archives.ImportResponse) =>
        err ? reject(err) : resolve(res!),
      );
      for (let i = 0; i < archive.length || i === 0; i += 1 << 20)
        call.write(
          archives.ImportRequest.fromPartial(
            i === 0 ? { unpack: true, data: archive.subarray(i, i + (1 << 20)) } : { data: archive.subarray(i, i + (1 << 20)) },
          ),
        );
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
  makeBusyboxArchive(file, name);

  return fs.readFileSync(file);
}

/** Delete image records and collect garbage (the content goes, as after `docker rmi`). */
export async function removeImage(store: ContainerdStore, name: string): Promise<void> {
  const c = store.clients.images;
  await store.call<images.DeleteImageRequest, unknown>(c, c.delete, { name, sync: true });
}
