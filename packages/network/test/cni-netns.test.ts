/**
 * Root-only integration: the real plugins from /usr/lib/cni (bridge, host-local, portmap, loopback)
 * against a namespace this test makes, on a bridge and subnet of its own; everything is removed.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CniInvoker, CniError } from '../src/cni';
import { bridgeConflist, loopbackConflist } from '../src/conflist';
import { createNetns, isNetnsMounted, removeNetns } from '../src/netns';
import { deleteLink, ensureBridge } from '../src/link';
import { addBridgeRules, removeBridgeRules } from '../src/firewall';
import { networkRecord } from '../src/store';
import { describeIf, needFile, needRoot } from '@gantry/testkit';

const d = describeIf(
  needRoot('network namespaces'),
  needFile('/usr/lib/cni/bridge', 'Debian package containernetworking-plugins; tools/install-deps.sh installs it'),
);

d('CNI plugins in a namespace of our own (root)', () => {
  const tag = randomBytes(4).toString('hex');
  const third = Math.floor(Math.random() * 256);
  const sub = `10.${100 + Math.floor(Math.random() * 150)}.${third}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gnc-'));
  const nsFile = path.join(dir, 'netns', 'c1');
  const net = networkRecord({
    Name: `it-${tag}`,
    Id: `${tag}${'0'.repeat(56)}`,
    Driver: 'bridge',
    IPAM: { Driver: 'default', Options: null, Config: [{ Subnet: `${sub}.0/24`, Gateway: `${sub}.1` }] },
    Bridge: `gti${tag}`,
  });
  const list = bridgeConflist(net, { ipamDir: path.join(dir, 'ipam') });
  const cni = new CniInvoker();
  const inNs = (...cmd: string[]) => execFileSync('nsenter', [`--net=${nsFile}`, ...cmd], { encoding: 'utf8' });
  const rt = {
    containerId: 'c1',
    netns: nsFile,
    ifName: 'eth0',
    capabilityArgs: {
      ips: [`${sub}.42/24`],
      portMappings: [{ hostPort: 40000 + Math.floor(Math.random() * 20000), containerPort: 80, protocol: 'tcp', hostIP: '127.0.0.1' }],
    },
  };
  const rules = () =>
    execFileSync('iptables-save', { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.includes(sub + '.') || l.includes(net.Bridge!) || l.includes(list.name));

  afterAll(async () => {
    // portmap's DEL needs the mappings again to find its rules
    await cni.del(list, rt).catch(() => undefined);
    removeNetns(nsFile);
    await removeBridgeRules({ bridge: net.Bridge!, internal: false });
    await deleteLink(net.Bridge!);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('creates a namespace, ADDs loopback and the bridge chain, CHECKs it, DELs it and releases the lease', async () => {
    await createNetns(nsFile);
    expect(isNetnsMounted(nsFile)).toBe(true);
    await ensureBridge(net.Bridge!, `${sub}.1/24`);
    await addBridgeRules({ bridge: net.Bridge!, internal: false });
    await cni.add(loopbackConflist(), { containerId: 'c1', netns: nsFile, ifName: 'lo' });
    const result = await cni.add(list, rt);
    expect(result.ips?.[0]).toMatchObject({ address: `${sub}.42/24`, gateway: `${sub}.1` });
    expect(inNs('ip', '-o', '-4', 'addr')).toContain(`${sub}.42/24`);
    expect(inNs('ip', '-o', 'link')).toMatch(/lo: <LOOPBACK,UP/);
    expect(fs.readdirSync(path.join(dir, 'ipam', list.name))).toContain(`${sub}.42`);
    expect(rules().some((l) => l.includes('DNAT') && l.includes(`${sub}.42:80`))).toBe(true);
    // Debian's portmap CHECK looks for an IPv6 chain it never made (fails with no v6 mapping): CHECK the bridge alone
    await cni.check({ ...list, plugins: [list.plugins[0]!] }, rt, result);

    // the same static address again is refused by host-local, with its error parsed
    const other = path.join(dir, 'netns', 'c2');
    await createNetns(other);
    try {
      const err = await cni.add(list, { ...rt, containerId: 'c2', netns: other }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CniError);
      expect((err as CniError).msg).toMatch(/already|not available|reserved/i);
    } finally {
      await cni.del(list, { ...rt, containerId: 'c2', netns: other }).catch(() => undefined);
      removeNetns(other);
    }

    await cni.del(list, rt, result);
    expect(inNs('ip', '-o', 'link')).not.toContain('eth0');
    expect(fs.readdirSync(path.join(dir, 'ipam', list.name))).not.toContain(`${sub}.42`);
    removeNetns(nsFile);
    expect(fs.existsSync(nsFile)).toBe(false);
    await removeBridgeRules({ bridge: net.Bridge!, internal: false });
    expect(rules()).toEqual([]);
  });
});
