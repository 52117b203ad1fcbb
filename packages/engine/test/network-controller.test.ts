/**
 * The controller's bookkeeping that needs no bridge or namespace: create-time validation, the /etc
 * files written at create and rewritten on disconnect, and the sandbox remembered across a restart.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { KindError } from '@gantry/linux';
import { Logger } from '@gantry/linux';
import { networkRecord, NetworkStore, type NetworkRecord } from '@gantry/network';
import { NetworkController } from '../src/networks/controller';
import type { ContainerView } from '../src/networks/sandbox';

const ID = 'c'.repeat(64);
let root: string;
let cdir: string;
let app: NetworkRecord;
const containers = new Map<string, ContainerView>();

function controller(): NetworkController {
  return new NetworkController({
    dataRoot: root,
    execRoot: path.join(root, 'exec'),
    log: new Logger('error', {}, () => undefined),
    containers: { find: (ref) => containers.get(ref) },
  });
}

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'gnctl-'));
  cdir = path.join(root, 'c');
  fs.mkdirSync(cdir);
  // records as a previous gantryd left them (init, which makes bridges, is not run here)
  const store = new NetworkStore(path.join(root, 'network', 'networks'));
  store.save(
    networkRecord({
      Name: 'bridge',
      Driver: 'bridge',
      IPAM: { Driver: 'default', Options: null, Config: [{ Subnet: '172.30.0.0/16', Gateway: '172.30.0.1' }] },
    }),
  );
  app = networkRecord({ Name: 'app', Driver: 'bridge', IPAM: { Driver: 'default', Options: {}, Config: [{ Subnet: '10.77.0.0/24', Gateway: '10.77.0.1' }] } });
  store.save(app);
  containers.clear();
  containers.set(ID, { Id: ID, Name: '/web', running: false });
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const read = (f: string) => fs.readFileSync(path.join(cdir, f), 'utf8');

it('writes the /etc files at create and rewrites them when the container leaves its network', async () => {
  const nets = controller();
  const p = nets.prepare({ id: ID, hostname: 'web', dir: cdir, networkMode: 'app', dns: ['1.1.1.1'], extraHosts: ['db:10.0.0.9'] });
  expect(p).toEqual({ netns: { path: path.join(root, 'exec', 'netns', ID) }, hostname: 'web' });
  expect(read('hostname')).toBe('web\n');
  expect(read('resolv.conf')).toMatch(/^nameserver 10\.77\.0\.1\n/);
  expect(read('hosts')).toContain('10.0.0.9\tdb\n');
  await nets.disconnect('app', ID);
  // no user-defined network left: its own --dns, no longer the network's resolver
  expect(read('resolv.conf')).toMatch(/^nameserver 1\.1\.1\.1\n/);
  expect(read('hosts')).toContain('10.0.0.9\tdb\n');
  await nets.connect('bridge', ID, {});
  expect(nets.settings(ID, false, {}).Networks).toEqual({ bridge: expect.objectContaining({ NetworkID: nets.get('bridge').Id }) });
  await nets.close();
});

it('remembers a sandbox across a restart and forgets it at removal', async () => {
  controller().prepare({ id: ID, hostname: '', dir: cdir, networkMode: 'app', endpoints: { app: { Aliases: ['www'] } } });
  const again = controller();
  expect(again.settings(ID, false, {}).Networks).toEqual({ app: expect.objectContaining({ Aliases: ['www'], NetworkID: app.Id }) });
  await again.forget(ID);
  expect(fs.readdirSync(path.join(root, 'network', 'sandboxes'))).toEqual([]);
  expect(controller().settings(ID, false, {}).Networks).toEqual({});
});

it('refuses a connect dockerd refuses, with its kind', async () => {
  const nets = controller();
  nets.prepare({ id: ID, hostname: '', dir: cdir, networkMode: 'app' });
  const kind = (p: Promise<unknown>) =>
    p.then(
      () => 'no error',
      (e: unknown) => (e instanceof KindError ? e.kind : 'not a KindError'),
    );
  expect(await kind(nets.connect('app', ID, {}))).toBe('permission-denied');
  expect(await kind(nets.connect('nope', ID, {}))).toBe('not-found');
  expect(await kind(nets.connect('app', 'ghost', {}))).toBe('not-found');
  expect(await kind(nets.disconnect('bridge', ID))).toBe('permission-denied');
  expect(() => nets.joinPath(ID)).toThrow(KindError);
});
