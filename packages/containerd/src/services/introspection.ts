/**
 * containerd.services.introspection.v1.Introspection: what this daemon is made of, named the way
 * containerd names its plugins (type/id) so `ctr plugins ls` reads familiarly; and the server's
 * identity: a UUID generated on first start and kept under the root, and the pid.
 */
import { createFileExclusive, FileExistsError } from '@gantry/linux';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { introspection, types } from '@gantry/api';
import type { DaemonContext } from '../context';
import { compileRequestFilters } from '../metadata/adaptors';
import { unary } from '../rpc';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The OCI platform of this process (Node's arch names → GOARCH). */
function hostPlatform(): types.Platform {
  const arch: Record<string, [string, string]> = { x64: ['amd64', ''], arm64: ['arm64', 'v8'], arm: ['arm', 'v7'], ia32: ['386', ''], ppc64: ['ppc64le', ''] };
  const [architecture, variant] = arch[process.arch] ?? [process.arch, ''];
  return { os: 'linux', architecture, variant };
}

/** The plugins of gantry-containerd, as containerd would list the equivalent ones. */
function gantryPlugins(ctx: DaemonContext): introspection.Plugin[] {
  const plugin = (type: string, id: string, more: Partial<introspection.Plugin> = {}): introspection.Plugin => ({
    type,
    id,
    requires: [],
    platforms: [],
    exports: {},
    capabilities: [],
    ...more,
  });
  const grpc = (id: string, requires: string[]) => plugin('io.containerd.grpc.v1', id, { requires });
  return [
    plugin('io.containerd.event.v1', 'exchange'),
    plugin('io.containerd.metadata.v1', 'records', { exports: { root: ctx.store.root } }),
    plugin('io.containerd.runtime.v2', 'task', {
      requires: ['io.containerd.event.v1', 'io.containerd.metadata.v1'],
      platforms: [hostPlatform()],
      exports: { root: ctx.root, state: ctx.state, shim: 'gantry-shim' },
    }),
    plugin('io.containerd.content.v1', 'content', { exports: { root: `${ctx.root}/content` } }),
    plugin('io.containerd.snapshotter.v1', 'overlayfs', { platforms: [hostPlatform()], exports: { root: `${ctx.root}/snapshots/overlayfs` } }),
    plugin('io.containerd.differ.v1', 'walking', { platforms: [hostPlatform()] }),
    plugin('io.containerd.gc.v1', 'scheduler', { requires: ['io.containerd.metadata.v1'] }),
    grpc('archives', ['io.containerd.content.v1', 'io.containerd.snapshotter.v1', 'io.containerd.metadata.v1', 'io.containerd.gc.v1']),
    grpc('containers', ['io.containerd.metadata.v1', 'io.containerd.event.v1']),
    grpc('content', ['io.containerd.content.v1']),
    grpc('diff', ['io.containerd.differ.v1']),
    grpc('images', ['io.containerd.metadata.v1', 'io.containerd.gc.v1']),
    grpc('leases', ['io.containerd.metadata.v1', 'io.containerd.gc.v1']),
    grpc('snapshots', ['io.containerd.snapshotter.v1']),
    grpc('events', ['io.containerd.event.v1']),
    grpc('introspection', []),
    grpc('namespaces', ['io.containerd.metadata.v1', 'io.containerd.event.v1']),
    grpc('tasks', ['io.containerd.runtime.v2', 'io.containerd.metadata.v1', 'io.containerd.event.v1']),
    grpc('version', []),
  ];
}

/** The server's UUID: read from <root>/uuid, or generated and stored there once (atomically). */
export function serverUuid(root: string): string {
  const file = path.join(root, 'uuid');
  const read = () => {
    try {
      return fs.readFileSync(file, 'utf8').trim();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  };
  const existing = read();
  if (existing !== undefined) {
    if (!UUID_RE.test(existing)) throw new Error(`${file}: not a UUID: ${JSON.stringify(existing.slice(0, 64))}`);
    return existing;
  }
  fs.mkdirSync(root, { recursive: true, mode: 0o711 });
  try {
    // whoever gets there first wins, and the file is never seen half-written
    createFileExclusive(file, `${randomUUID()}\n`, { mode: 0o644 });
  } catch (e) {
    if (!(e instanceof FileExistsError)) throw e;
  }
  return serverUuid(root);
}

/** The inode of our pid namespace (0 where /proc says nothing). */
function pidNamespace(): bigint {
  try {
    return BigInt(fs.statSync('/proc/self/ns/pid').ino);
  } catch {
    return 0n;
  }
}

export function introspectionService(ctx: DaemonContext): introspection.IntrospectionServer {
  const log = ctx.log.with({ service: 'introspection' });
  const uuid = serverUuid(ctx.root);
  const plugins = gantryPlugins(ctx);
  return {
    plugins: unary(log, 'Plugins', (req: introspection.PluginsRequest): introspection.PluginsResponse => {
      const match = compileRequestFilters(req.filters);
      // containerd's plugin filter fields: type, id, and the first capability
      return {
        plugins: plugins.filter((p) =>
          match(([head]) => (head === 'type' ? p.type : head === 'id' ? p.id : head === 'capabilities' ? p.capabilities[0] : undefined)),
        ),
      };
    }),
    server: unary(log, 'Server', (): introspection.ServerResponse => ({ uuid, pid: BigInt(process.pid), pidns: pidNamespace() })),
  };
}
