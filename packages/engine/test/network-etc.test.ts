/** A container's /etc/hosts and /etc/resolv.conf as its sandbox changes: connected, disconnected, host network, no managed networking. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { networkRecord, NetworkStore, type NetworkRecord } from '@gantry/network';
import { containerEtcContent, etcPaths, standaloneEtcContent, writeContainerEtc, writeStandaloneEtc } from '../src/networks/etc-files';
import { etcOf, type Sandbox } from '../src/networks/sandbox';

const HOST = { hosts: '127.0.0.1\tlocalhost\n10.9.9.9\tthehost\n', resolvConf: 'nameserver 127.0.0.53\nnameserver 9.9.9.9\nsearch corp.example\n' };

let dir: string;
let store: NetworkStore;
let user: NetworkRecord;
let bridge: NetworkRecord;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gnetc-'));
  store = new NetworkStore(path.join(dir, 'networks'));
  bridge = networkRecord({
    Name: 'bridge',
    Driver: 'bridge',
    IPAM: { Driver: 'default', Options: null, Config: [{ Subnet: '172.30.0.0/16', Gateway: '172.30.0.1' }] },
  });
  user = networkRecord({ Name: 'app', Driver: 'bridge', IPAM: { Driver: 'default', Options: {}, Config: [{ Subnet: '10.77.0.0/24', Gateway: '10.77.0.1' }] } });
  store.save(bridge);
  store.save(user);
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function sandbox(over: Partial<Sandbox>): Sandbox {
  return {
    containerId: 'c'.repeat(64),
    mode: 'bridge',
    attachments: [],
    hostname: 'web',
    domainname: '',
    extraHosts: [],
    dns: [],
    dnsSearch: [],
    dnsOptions: [],
    portBindings: {},
    exposed: {},
    publishAll: false,
    etc: etcPaths(dir),
    ports: [],
    up: true,
    ...over,
  };
}

it('a container connected to a user-defined network names itself at its address and asks the network resolver', () => {
  const sb = sandbox({ attachments: [{ networkId: user.Id, aliases: [], ipAddress: '10.77.0.5' }], extraHosts: ['db:10.0.0.9'] });
  const c = containerEtcContent(etcOf(sb, store), HOST);
  expect(c.hosts.split('\n').slice(6)).toEqual(['10.0.0.9\tdb', '10.77.0.5\tweb', '']);
  expect(c.resolvConf).toBe('nameserver 10.77.0.1\nsearch corp.example\n');
});

it('after disconnecting from its only network, the address line and the network resolver are gone', () => {
  const sb = sandbox({ attachments: [{ networkId: user.Id, aliases: [], ipAddress: '10.77.0.5' }], dns: ['1.1.1.1'] });
  sb.attachments.splice(0, 1);
  const c = containerEtcContent(etcOf(sb, store), HOST);
  expect(c.hosts).not.toMatch(/10\.77\.0\.5/);
  expect(c.hosts.trimEnd().split('\n')).toHaveLength(6);
  // its own --dns again, as on the default bridge
  expect(c.resolvConf).toBe('nameserver 1.1.1.1\nsearch corp.example\n');
});

it('on the default bridge: the host resolvers less the loopback ones, the domain name on the address line', () => {
  const sb = sandbox({ attachments: [{ networkId: bridge.Id, aliases: [], ipAddress: '172.30.0.2' }], domainname: 'example.org' });
  const c = containerEtcContent(etcOf(sb, store), HOST);
  expect(c.hosts).toContain('172.30.0.2\tweb.example.org web\n');
  expect(c.resolvConf).toBe('nameserver 9.9.9.9\nsearch corp.example\n');
});

it('on the host network: the host files, with the extra hosts after its own lines', () => {
  const sb = sandbox({ mode: 'host', extraHosts: ['gw:10.0.0.1'] });
  const c = containerEtcContent(etcOf(sb, store), HOST);
  expect(c.hosts).toBe(`${HOST.hosts}10.0.0.1\tgw\n`);
  expect(c.resolvConf).toBe(HOST.resolvConf);
  // with DNS options of its own, a resolv.conf of its own
  expect(containerEtcContent(etcOf({ ...sb, dnsOptions: ['ndots:2'] }, store), HOST).resolvConf).toBe(
    'nameserver 9.9.9.9\nsearch corp.example\noptions ndots:2\n',
  );
});

it('writes hosts and resolv.conf in place, and hostname only when asked', () => {
  const paths = etcPaths(dir);
  const sb = sandbox({ attachments: [{ networkId: user.Id, aliases: [], ipAddress: '10.77.0.5' }] });
  writeContainerEtc(paths, etcOf(sb, store), { hostname: true, host: HOST });
  const inode = fs.statSync(paths.hosts).ino;
  expect(fs.readFileSync(paths.hostname, 'utf8')).toBe('web\n');
  fs.writeFileSync(paths.hostname, 'untouched\n');
  sb.attachments = [];
  writeContainerEtc(paths, etcOf(sb, store), { host: HOST });
  expect(fs.statSync(paths.hosts).ino).toBe(inode);
  expect(fs.readFileSync(paths.hosts, 'utf8')).not.toContain('10.77.0.5');
  expect(fs.readFileSync(paths.hostname, 'utf8')).toBe('untouched\n');
});

it('without managed networking: loopback names, the host resolv.conf as it is (a loopback resolver when unreadable)', () => {
  expect(standaloneEtcContent('box', HOST)).toEqual({
    hosts: '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\tbox\n',
    resolvConf: HOST.resolvConf,
  });
  expect(standaloneEtcContent('box', {}).resolvConf).toBe('nameserver 127.0.0.1\n');
  const paths = writeStandaloneEtc(dir, 'box');
  expect(paths).toEqual(etcPaths(dir));
  expect(fs.readFileSync(paths.hostname, 'utf8')).toBe('box\n');
  expect(fs.readFileSync(paths.hosts, 'utf8')).toContain('127.0.1.1\tbox\n');
});
