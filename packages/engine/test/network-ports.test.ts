/** Published ports of sandboxes: held while the container runs, held again after a restart, dockerd's error when one is taken. */
import * as net from 'node:net';
import { KindError } from '@gantry/linux';
import { PortAllocatedError } from '@gantry/network';
import { freePort } from '@gantry/testkit';
import { etcPaths } from '../src/networks/etc-files';
import { checkPortSpecs, portAllocationFailure, SandboxPorts } from '../src/networks/ports';
import type { Sandbox } from '../src/networks/sandbox';
import { portMap, portSummary } from '../src/networks/views';
import { SandboxStore } from '../src/networks/sandbox';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

function sandbox(id: string, over: Partial<Sandbox> = {}): Sandbox {
  return {
    containerId: id,
    mode: 'bridge',
    attachments: [],
    hostname: id,
    domainname: '',
    extraHosts: [],
    dns: [],
    dnsSearch: [],
    dnsOptions: [],
    portBindings: {},
    exposed: {},
    publishAll: false,
    etc: etcPaths('/nonexistent'),
    ports: [],
    up: true,
    ...over,
  };
}

const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(true));
    s.listen({ port, host: '127.0.0.1', exclusive: true }, () => s.close(() => resolve(false)));
  });

let ports: SandboxPorts;
beforeEach(() => {
  ports = new SandboxPorts();
});
afterEach(() => ports.releaseAll());

it('holds a published port while the container runs and frees it on release', async () => {
  const port = await freePort();
  const sb = sandbox('a', { portBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(port) }] } });
  expect(await ports.reserve(sb)).toEqual([{ hostIP: '127.0.0.1', hostPort: port, containerPort: 80, protocol: 'tcp' }]);
  expect(await listening(port)).toBe(true);
  ports.release('a');
  expect(await listening(port)).toBe(false);
});

it('a port taken by another container is a PortAllocatedError, which dockerd words as a connectivity failure', async () => {
  const port = await freePort();
  const bind = { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(port) }] };
  await ports.reserve(sandbox('a', { portBindings: bind }));
  const err = await ports.reserve(sandbox('b', { portBindings: bind })).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(PortAllocatedError);
  const taken = err as PortAllocatedError;
  expect([taken.hostIP, taken.hostPort, taken.kind]).toEqual(['127.0.0.1', port, 'internal']);
  const worded = portAllocationFailure('web', taken);
  expect(worded.kind).toBe('internal');
  expect(worded.message).toMatch(
    new RegExp(
      `^driver failed programming external connectivity on endpoint web \\([0-9a-f]{64}\\): Bind for 127\\.0\\.0\\.1:${port} failed: port is already allocated$`,
    ),
  );
});

it('after a restart, the ports of a container that survived it are held again', async () => {
  const port = await freePort();
  const survivor = sandbox('a', { ports: [{ hostIP: '127.0.0.1', hostPort: port, containerPort: 80, protocol: 'tcp' }] });
  await ports.readopt(survivor);
  expect(await listening(port)).toBe(true);
  const other = sandbox('b', { portBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(port) }] } });
  await expect(ports.reserve(other)).rejects.toBeInstanceOf(PortAllocatedError);
});

it('a bad port specification is refused at create as an invalid argument, only in bridge mode', () => {
  const bad = { '99999/tcp': [{}] };
  const err = (() => {
    try {
      checkPortSpecs(sandbox('a', { portBindings: bad }));
    } catch (e) {
      return e;
    }
  })();
  expect(err).toBeInstanceOf(KindError);
  expect((err as KindError).kind).toBe('invalid-argument');
  expect(() => checkPortSpecs(sandbox('a', { mode: 'host', portBindings: bad }))).not.toThrow();
});

describe('port views', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gnports-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('lists exposed ports unbound and published ones with their host bindings', () => {
    const sandboxes = new SandboxStore(dir, () => undefined);
    sandboxes.add(
      sandbox('a', {
        exposed: { '53/udp': {} },
        portBindings: { '80': [{}] },
        ports: [{ hostIP: '0.0.0.0', hostPort: 8080, containerPort: 80, protocol: 'tcp' }],
      }),
    );
    expect(portMap(sandboxes, 'a', { '443/tcp': {} })).toEqual({ '443/tcp': null, '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }] });
    expect(portSummary(sandboxes, 'a', {})).toEqual([{ IP: '0.0.0.0', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' }]);
    // a host-network container publishes nothing
    sandboxes.add(sandbox('h', { mode: 'host', exposed: { '80/tcp': {} } }));
    expect(portMap(sandboxes, 'h', { '80/tcp': {} })).toEqual({});
    // the sandbox is on disk for the next gantryd
    expect(new SandboxStore(dir, () => undefined).get('a')?.ports).toHaveLength(1);
  });
});
