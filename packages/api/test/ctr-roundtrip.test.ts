/**
 * Wire compatibility with containerd's own client: a grpc-js server built from the generated
 * service definitions, driven by Debian's `ctr` (containerd 1.6). ctr only gets answers if the
 * proto packages, service/method names and field numbers match containerd's.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Server, ServerCredentials, status, type StatusObject } from '@grpc/grpc-js';
import { introspection, namespaces, namespaceOf, version } from '../src';
import { describeIfTool } from './tools';

const run = promisify(execFile);

const SERVER_VERSION = 'v0.1.0-gantry-test';
const SERVER_REVISION = 'feedface';
const SERVER_UUID = '6f3c1e0a-0000-4000-8000-gantry000001';

/** A gRPC error status for a unary callback (grpc-js accepts a partial status object). */
function grpcError(code: status, details: string): Partial<StatusObject> {
  return { code, details };
}

describeIfTool('ctr', 'containerd')('ctr against a grpc-js server from @gantry/api', () => {
  let dir: string;
  let sock: string;
  let server: Server;
  const store = new Map<string, namespaces.Namespace>();
  const seenNamespaceHeaders: (string | undefined)[] = [];

  const versionImpl: version.VersionServer = {
    version: (_call, cb) => cb(null, { version: SERVER_VERSION, revision: SERVER_REVISION }),
  };
  const introspectionImpl: introspection.IntrospectionServer = {
    plugins: (_call, cb) => cb(null, { plugins: [] }),
    server: (_call, cb) => cb(null, { uuid: SERVER_UUID, pid: BigInt(process.pid), pidns: 0n }),
  };
  const namespacesImpl: namespaces.NamespacesServer = {
    get: (call, cb) => {
      const ns = store.get(call.request.name);
      if (!ns) return cb(grpcError(status.NOT_FOUND, `namespace ${call.request.name}: not found`));
      cb(null, { namespace: ns });
    },
    list: (call, cb) => {
      seenNamespaceHeaders.push(namespaceOf(call.metadata));
      cb(null, { namespaces: [...store.values()] });
    },
    create: (call, cb) => {
      const ns = call.request.namespace;
      if (!ns || ns.name === '') return cb(grpcError(status.INVALID_ARGUMENT, 'namespace name required'));
      if (store.has(ns.name)) return cb(grpcError(status.ALREADY_EXISTS, `namespace ${ns.name}: already exists`));
      store.set(ns.name, { name: ns.name, labels: { ...ns.labels } });
      cb(null, { namespace: store.get(ns.name) });
    },
    update: (_call, cb) => cb(grpcError(status.UNIMPLEMENTED, 'not in this test')),
    delete: (call, cb) => {
      store.delete(call.request.name);
      cb(null, {});
    },
  };

  const ctr = async (...args: string[]): Promise<string> => {
    const { stdout } = await run('ctr', ['--address', sock, '--timeout', '10s', ...args], { timeout: 20000 });
    return stdout;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gantry-api-'));
    sock = join(dir, 'containerd.sock');
    server = new Server();
    server.addService(version.VersionService, versionImpl);
    server.addService(introspection.IntrospectionService, introspectionImpl);
    server.addService(namespaces.NamespacesService, namespacesImpl);
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix://${sock}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
    );
  });

  afterAll(async () => {
    if (server) await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('ctr version prints our server version, revision and UUID', async () => {
    const out = await ctr('version');
    expect(out).toMatch(/Server:\s*\n\s*Version:\s+v0\.1\.0-gantry-test\n\s*Revision:\s+feedface\n\s*UUID:\s+6f3c1e0a-0000-4000-8000-gantry000001/);
  });

  test('ctr namespaces create + ls', async () => {
    await ctr('namespaces', 'create', 'foo', 'team=gantry');
    expect(store.get('foo')).toEqual({ name: 'foo', labels: { team: 'gantry' } });

    const out = await ctr('namespaces', 'ls');
    const rows = out
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/));
    expect(rows[0]).toEqual(['NAME', 'LABELS']);
    expect(rows).toContainEqual(['foo', 'team=gantry']);
    // ctr scopes every call with the namespace header (its default namespace here)
    expect(seenNamespaceHeaders).toContain('default');
  });

  test('ctr sees our gRPC errors with their codes', async () => {
    await expect(ctr('namespaces', 'create', 'foo')).rejects.toMatchObject({
      stderr: expect.stringMatching(/already exists/),
    });
  });
});
