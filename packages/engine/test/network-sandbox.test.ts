/** Sandboxes at create (mode and endpoints decided as dockerd does) and the names the network resolver answers from them. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { KindError } from '@gantry/linux';
import { networkRecord, NetworkStore, type NetworkRecord } from '@gantry/network';
import { forwardersFor, isEndpointOf, resolveName } from '../src/networks/dns-wiring';
import { type ContainerView, SandboxStore } from '../src/networks/sandbox';
import { planSandbox, type PlanContext } from '../src/networks/sandbox-plan';
import { endpointsOf } from '../src/networks/views';

const ID = 'a'.repeat(64);
const OTHER = 'b'.repeat(64);

let dir: string;
let store: NetworkStore;
let sandboxes: SandboxStore;
let ctx: PlanContext;
let app: NetworkRecord;
const containers = new Map<string, ContainerView>();
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gnsb-'));
  store = new NetworkStore(path.join(dir, 'networks'));
  sandboxes = new SandboxStore(path.join(dir, 'sandboxes'), () => undefined);
  store.save(
    networkRecord({
      Name: 'bridge',
      Driver: 'bridge',
      IPAM: { Driver: 'default', Options: null, Config: [{ Subnet: '172.30.0.0/16', Gateway: '172.30.0.1' }] },
    }),
  );
  store.save(networkRecord({ Name: 'host', Driver: 'host' }));
  app = networkRecord({ Name: 'app', Driver: 'bridge', IPAM: { Driver: 'default', Options: {}, Config: [{ Subnet: '10.77.0.0/24', Gateway: '10.77.0.1' }] } });
  store.save(app);
  containers.clear();
  containers.set(ID, { Id: ID, Name: '/web', running: true });
  containers.set(OTHER, { Id: OTHER, Name: '/db', running: true });
  ctx = { store, sandboxes, containers: { find: (ref) => containers.get(ref) }, netnsPathFor: (id) => `/run/netns/${id}` };
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const kindOf = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return e instanceof KindError ? e.kind : 'not a KindError';
  }
  return 'no error';
};

it('the default network is bridge, with its own namespace and the short id as hostname', () => {
  const sb = planSandbox({ id: ID, hostname: '', dir, extraHosts: ['gw:host-gateway'] }, ctx);
  expect(sb.mode).toBe('bridge');
  expect(sb.netnsPath).toBe(`/run/netns/${ID}`);
  expect(sb.hostname).toBe(ID.slice(0, 12));
  expect(sb.attachments.map((a) => a.networkId)).toEqual([store.find('bridge')!.Id]);
  expect(sb.extraHosts).toEqual(['gw:172.30.0.1']);
  expect(sb.etc.hosts).toBe(path.join(dir, 'hosts'));
});

it('a network of the host driver is host mode: no namespace, no attachment', () => {
  const sb = planSandbox({ id: ID, hostname: 'h', dir, networkMode: 'host' }, ctx);
  expect([sb.mode, sb.netnsPath, sb.attachments]).toEqual(['host', undefined, []]);
});

it('refuses as dockerd does: aliases on bridge, an unknown network, an unknown container to join', () => {
  expect(kindOf(() => planSandbox({ id: ID, hostname: '', dir, endpoints: { bridge: { Aliases: ['x'] } } }, ctx))).toBe('invalid-argument');
  expect(kindOf(() => planSandbox({ id: ID, hostname: '', dir, networkMode: 'nope' }, ctx))).toBe('not-found');
  expect(kindOf(() => planSandbox({ id: ID, hostname: '', dir, networkMode: 'container:ghost' }, ctx))).toBe('not-found');
});

it('a fixed address held by a running container is refused', () => {
  const first = planSandbox({ id: OTHER, hostname: '', dir, networkMode: 'app', endpoints: { app: { IPAMConfig: { IPv4Address: '10.77.0.9' } } } }, ctx);
  sandboxes.add({ ...first, up: true });
  const again = () => planSandbox({ id: ID, hostname: '', dir, networkMode: 'app', endpoints: { app: { IPAMConfig: { IPv4Address: '10.77.0.9' } } } }, ctx);
  expect(kindOf(again)).toBe('permission-denied');
});

describe('names on a network', () => {
  beforeEach(() => {
    const web = planSandbox({ id: ID, hostname: '', dir, networkMode: 'app', endpoints: { app: { Aliases: ['www'] } }, dns: ['9.9.9.9'] }, ctx);
    web.attachments[0]!.ipAddress = '10.77.0.2';
    web.attachments[0]!.prefixLen = 24;
    sandboxes.add({ ...web, up: true });
    const db = planSandbox({ id: OTHER, hostname: '', dir, networkMode: 'app' }, ctx);
    db.attachments[0]!.ipAddress = '10.77.0.3';
    sandboxes.add(db); // not up: stopped
  });

  it('answers running containers by name, short id, alias and <name>.<network>, case-insensitively', () => {
    const ask = (n: string) => resolveName(sandboxes, store, ctx.containers, app.Id, n);
    expect(ask('web')).toEqual(['10.77.0.2']);
    expect(ask('WWW.')).toEqual(['10.77.0.2']);
    expect(ask(`${ID.slice(0, 12)}.app`)).toEqual(['10.77.0.2']);
    expect(ask('db')).toBeUndefined();
  });

  it('resolves a container’s legacy link aliases for that container only (HostConfig.Links on a user-defined network)', () => {
    const THIRD = 'c'.repeat(64);
    containers.set(THIRD, { Id: THIRD, Name: '/app_run', running: true, links: ['/web:/app_run/web_1', 'db:store'] });
    const run = planSandbox({ id: THIRD, hostname: '', dir, networkMode: 'app' }, ctx);
    run.attachments[0]!.ipAddress = '10.77.0.4';
    sandboxes.add({ ...run, up: true });
    expect(resolveName(sandboxes, store, ctx.containers, app.Id, 'web_1', '10.77.0.4')).toEqual(['10.77.0.2']);
    expect(resolveName(sandboxes, store, ctx.containers, app.Id, 'WEB_1.app', '10.77.0.4')).toEqual(['10.77.0.2']);
    expect(resolveName(sandboxes, store, ctx.containers, app.Id, 'web_1', '10.77.0.2')).toBeUndefined(); // not web's link
    expect(resolveName(sandboxes, store, ctx.containers, app.Id, 'store', '10.77.0.4')).toBeUndefined(); // db is not running
  });

  it('serves only the network’s running endpoints, and forwards to their own --dns', () => {
    expect(isEndpointOf(sandboxes, app.Id, '10.77.0.2')).toBe(true);
    expect(isEndpointOf(sandboxes, app.Id, '10.77.0.3')).toBe(false);
    expect(forwardersFor(sandboxes, app.Id, '10.77.0.2')).toEqual(['9.9.9.9']);
    expect(forwardersFor(sandboxes, app.Id, '10.77.0.3')).toBeUndefined();
    expect(Object.keys(endpointsOf({ store, sandboxes, containers: ctx.containers }, app.Id))).toEqual([ID]);
  });
});
