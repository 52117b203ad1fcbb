/**
 * Root-only integration: what the firewall keeps out, with the real CNI plugins and iptables, in
 * namespaces this test makes (all traffic stays in them and on the host's own links):
 *
 *   c1 ── bridge A (ports 80 and 81 listening; 80 published on 127.0.0.1:P1 and on every address:P2)
 *   c2 ── bridge B
 *   out ── veth ── host   ("a neighbour": routes everything through the host)
 *
 * A neighbour reaches a published port and nothing else of c1; c2 (another network) reaches none of
 * c1; c1 cannot reach a service the host binds to 127.0.0.1 although portmap turned route_localnet
 * on for bridge A, and the neighbour cannot reach the port published on 127.0.0.1; only bridge A
 * reaches its resolver's port on A's gateway. Every rule, namespace and link is removed at the end.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { CniInvoker } from '../src/cni';
import { bridgeConflist, loopbackConflist } from '../src/conflist';
import { createNetns, removeNetns } from '../src/netns';
import { deleteLink, ensureBridge } from '../src/link';
import { addBridgeRules, FORWARD_CHAIN, INPUT_CHAIN, removeBridgeRules, RAW_PREROUTING, USER_CHAIN, type BridgeRules } from '../src/firewall';
import { networkRecord, type NetworkRecord } from '../src/store';
import type { PortMapping } from '../src/ports';
import { describeIf, needFile, needRoot, needTool } from '@gantry/testkit';

const d = describeIf(
  needRoot('network namespaces and iptables'),
  needFile('/usr/lib/cni/portmap', 'Debian package containernetworking-plugins'),
  needTool('iptables'),
  needTool('nsenter', 'util-linux'),
);

/** How long a probe waits for a dropped packet's connection before calling it unreachable. */
const UNREACHABLE_MS = 1500;

const PROBE_TCP = `const net=require('net');const [h,p,ms]=process.argv.slice(1);
const s=net.connect({host:h,port:+p});setTimeout(()=>{console.log('timeout');process.exit(0)},+ms);
s.on('data',d=>{console.log('open '+d);process.exit(0)});s.on('error',e=>{console.log(e.code);process.exit(0)});`;
const PROBE_UDP = `const s=require('dgram').createSocket('udp4');const [h,p,ms]=process.argv.slice(1);
setTimeout(()=>{console.log('timeout');process.exit(0)},+ms);s.on('message',m=>{console.log('open '+m);process.exit(0)});
s.on('error',e=>{console.log(e.code);process.exit(0)});s.send('ping',+p,h);`;

d('network isolation with namespaces of our own (root)', () => {
  const tag = randomBytes(3).toString('hex');
  const a = 100 + Math.floor(Math.random() * 150);
  const b = Math.floor(Math.random() * 250);
  const subA = `10.${a}.${b}`;
  const subB = `10.${a}.${b + 1}`;
  const subO = `10.${a}.${b + 2}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gni-'));
  const ns = { c1: path.join(dir, 'c1'), c2: path.join(dir, 'c2'), out: path.join(dir, 'out') };
  const record = (sub: string, bridge: string, id: string): NetworkRecord =>
    networkRecord({
      Name: `iso-${id}`,
      Id: `${id}${'0'.repeat(64 - id.length)}`,
      Driver: 'bridge',
      IPAM: { Driver: 'default', Options: null, Config: [{ Subnet: `${sub}.0/24`, Gateway: `${sub}.1` }] },
      Bridge: bridge,
    });
  const netA = record(subA, `gia${tag}`, `a${tag}`);
  const netB = record(subB, `gib${tag}`, `b${tag}`);
  const listA = bridgeConflist(netA, { ipamDir: path.join(dir, 'ipam') });
  const listB = bridgeConflist(netB, { ipamDir: path.join(dir, 'ipam') });
  const hostVeth = `gio${tag}`;
  const port = () => 20000 + Math.floor(Math.random() * 20000);
  const p1 = port();
  const p2 = p1 + 1;
  const dnsPort = p1 + 2;
  const hostOnlyPort = p1 + 3;
  const ports: PortMapping[] = [
    { hostPort: p1, containerPort: 80, protocol: 'tcp', hostIP: '127.0.0.1' },
    { hostPort: p2, containerPort: 80, protocol: 'tcp', hostIP: '0.0.0.0' },
  ];
  const rulesA: BridgeRules = { bridge: netA.Bridge!, internal: false, subnet: `${subA}.0/24`, dns: { address: `${subA}.1`, port: dnsPort } };
  const rulesB: BridgeRules = { bridge: netB.Bridge!, internal: false, subnet: `${subB}.0/24` };
  const cni = new CniInvoker();
  const rtA = { containerId: `c1-${tag}`, netns: ns.c1, ifName: 'eth0', capabilityArgs: { ips: [`${subA}.2/24`], portMappings: ports } };
  const rtB = { containerId: `c2-${tag}`, netns: ns.c2, ifName: 'eth0', capabilityArgs: { ips: [`${subB}.2/24`], portMappings: [] } };
  const children: ChildProcess[] = [];
  let hostOnly: net.Server | undefined;
  let dnsLike: dgram.Socket | undefined;

  const sh = (...argv: string[]) => execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
  const inNs = (file: string, ...argv: string[]) => sh('nsenter', `--net=${file}`, ...argv);
  const probe = async (file: string | undefined, script: string, host: string, p: number): Promise<string> => {
    const argv = [...(file ? ['nsenter', `--net=${file}`] : []), process.execPath, '-e', script, host, String(p), String(UNREACHABLE_MS)];
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    await new Promise((r) => child.on('close', r));
    return out.trim();
  };
  const tcp = (file: string | undefined, host: string, p: number) => probe(file, PROBE_TCP, host, p);
  /** Let a namespace send to 127/8 through its gateway, as a process with CAP_NET_ADMIN (or raw sockets) can. */
  const routeLoopbackOut = (file: string, gateway: string, dev: string) => {
    inNs(file, 'ip', 'addr', 'del', '127.0.0.1/8', 'dev', 'lo');
    inNs(file, 'sysctl', '-qw', 'net.ipv4.conf.all.route_localnet=1', `net.ipv4.conf.${dev}.route_localnet=1`);
    inNs(file, 'ip', 'route', 'add', '127.0.0.0/8', 'via', gateway, 'dev', dev);
  };
  const loopbackDrops = () => {
    const line = sh('iptables', '-w', '5', '-t', 'raw', '-nvxL', RAW_PREROUTING)
      .split('\n')
      .find((l) => /DROP/.test(l) && l.includes('127.0.0.0/8'));
    return Number(line?.trim().split(/\s+/)[0] ?? NaN);
  };
  const leftovers = () =>
    sh('iptables-save')
      .split('\n')
      .filter((l) => [netA.Bridge!, netB.Bridge!, hostVeth, `${subA}.`, `${subB}.`, listA.name, listB.name].some((s) => l.includes(s)));

  const cleanup = async () => {
    for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
    hostOnly?.close();
    hostOnly = undefined;
    dnsLike?.close();
    dnsLike = undefined;
    // portmap's DEL needs the mappings again to find its rules
    await cni.del(listA, rtA).catch(() => undefined);
    await cni.del(listB, rtB).catch(() => undefined);
    for (const f of Object.values(ns)) removeNetns(f);
    await removeBridgeRules(rulesA);
    await removeBridgeRules(rulesB);
    for (const l of [netA.Bridge!, netB.Bridge!, hostVeth]) await deleteLink(l);
    fs.rmSync(dir, { recursive: true, force: true });
  };

  beforeAll(async () => {
    for (const f of Object.values(ns)) await createNetns(f);
    await ensureBridge(netA.Bridge!, `${subA}.1/24`);
    await ensureBridge(netB.Bridge!, `${subB}.1/24`);
    await addBridgeRules(rulesA);
    await addBridgeRules(rulesB);
    for (const [file, id] of [
      [ns.c1, rtA.containerId],
      [ns.c2, rtB.containerId],
    ] as const)
      await cni.add(loopbackConflist(), { containerId: id, netns: file, ifName: 'lo' });
    await cni.add(listA, rtA);
    await cni.add(listB, rtB);
    // the neighbour: a veth from the host, everything routed through the host
    sh('ip', 'link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', `gip${tag}`);
    sh('ip', 'link', 'set', `gip${tag}`, 'netns', ns.out);
    sh('ip', 'addr', 'add', `${subO}.1/30`, 'dev', hostVeth);
    sh('ip', 'link', 'set', hostVeth, 'up');
    inNs(ns.out, 'ip', 'link', 'set', `gip${tag}`, 'name', 'eth0');
    inNs(ns.out, 'ip', 'addr', 'add', `${subO}.2/30`, 'dev', 'eth0');
    inNs(ns.out, 'ip', 'link', 'set', 'eth0', 'up');
    inNs(ns.out, 'ip', 'link', 'set', 'lo', 'up');
    inNs(ns.out, 'ip', 'route', 'add', 'default', 'via', `${subO}.1`);
    // c1's services on 80 (published) and 81 (not)
    const server = spawn(
      'nsenter',
      [
        `--net=${ns.c1}`,
        process.execPath,
        '-e',
        `const net=require('net');let n=0;for(const p of [80,81])net.createServer(s=>s.end('c1:'+p)).listen(p,'0.0.0.0',()=>{if(++n===2)console.log('ready')});`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    children.push(server);
    await new Promise<void>((resolve, reject) => {
      server.stdout!.on('data', (c: Buffer) => c.toString().includes('ready') && resolve());
      server.on('exit', (code) => reject(new Error(`c1 server exited ${code}`)));
    });
    // a host service bound to loopback only
    hostOnly = net.createServer((s) => s.end('host-only'));
    await new Promise<void>((r) => hostOnly!.listen(hostOnlyPort, '127.0.0.1', () => r()));
    // a UDP service on bridge A's gateway, at the resolver's port
    dnsLike = dgram.createSocket('udp4');
    dnsLike.on('message', (_m, r) => dnsLike!.send('dns', r.port, r.address));
    await new Promise<void>((r) => dnsLike!.bind(dnsPort, `${subA}.1`, () => r()));
  }, 60000);

  afterAll(cleanup, 60000);

  it("jumps to its chains from FORWARD (the administrator's GANTRY-USER first), INPUT and raw PREROUTING", () => {
    const jumps = (table: string, chain: string) =>
      sh('iptables', '-w', '5', '-t', table, '-S', chain)
        .split('\n')
        .filter((l) => l.startsWith(`-A ${chain} -j `))
        .map((l) => l.split(' -j ')[1]);
    const fwd = jumps('filter', 'FORWARD');
    expect(fwd).toContain(USER_CHAIN);
    expect(fwd.indexOf(USER_CHAIN)).toBeLessThan(fwd.indexOf(FORWARD_CHAIN));
    expect(jumps('filter', 'INPUT')).toContain(INPUT_CHAIN);
    expect(jumps('raw', 'PREROUTING')).toContain(RAW_PREROUTING);
  });

  it('a neighbour reaches a published port on the host, but no port of the container directly', async () => {
    const [published, direct80, direct81] = await Promise.all([tcp(ns.out, `${subO}.1`, p2), tcp(ns.out, `${subA}.2`, 80), tcp(ns.out, `${subA}.2`, 81)]);
    expect(published).toBe('open c1:80');
    expect(direct80).toBe('timeout');
    expect(direct81).toBe('timeout');
    // the host itself reaches the container directly, and its published ports on 127.0.0.1 (portmap's snat)
    expect(await tcp(undefined, `${subA}.2`, 81)).toBe('open c1:81');
    expect(await tcp(undefined, '127.0.0.1', p1)).toBe('open c1:80');
  });

  it('another network reaches nothing of the container', async () => {
    expect(await tcp(ns.c2, `${subA}.2`, 81)).toBe('timeout');
    expect(await tcp(ns.c2, `${subB}.1`, hostOnlyPort)).toBe('ECONNREFUSED'); // c2 itself is wired: the host answers it
  });

  it('with route_localnet on (portmap sets it), neither the container nor a neighbour reaches 127.0.0.1 of the host', async () => {
    expect(fs.readFileSync(`/proc/sys/net/ipv4/conf/${netA.Bridge}/route_localnet`, 'utf8').trim()).toBe('1');
    routeLoopbackOut(ns.c1, `${subA}.1`, 'eth0');
    routeLoopbackOut(ns.out, `${subO}.1`, 'eth0');
    const before = loopbackDrops();
    const [fromContainer, toPublishedOnLo] = await Promise.all([tcp(ns.c1, '127.0.0.1', hostOnlyPort), tcp(ns.out, '127.0.0.1', p1)]);
    expect(fromContainer).toBe('timeout');
    expect(toPublishedOnLo).toBe('timeout');
    // dropped by our rule (not lost on the way): its counter moved
    expect(loopbackDrops()).toBeGreaterThan(before);
  });

  it("only the network's own bridge reaches its resolver's port on the gateway", async () => {
    const [own, other, neighbour] = await Promise.all([
      probe(ns.c1, PROBE_UDP, `${subA}.1`, dnsPort),
      probe(ns.c2, PROBE_UDP, `${subA}.1`, dnsPort),
      probe(ns.out, PROBE_UDP, `${subA}.1`, dnsPort),
    ]);
    expect(own).toBe('open dns');
    expect(other).toBe('timeout');
    expect(neighbour).toBe('timeout');
  });

  it('leaves no rule, link or namespace behind', async () => {
    await cleanup();
    expect(leftovers()).toEqual([]);
    expect(
      sh('ip', '-o', 'link')
        .split('\n')
        .filter((l) => l.includes(tag)),
    ).toEqual([]);
    for (const f of Object.values(ns)) expect(fs.existsSync(f)).toBe(false);
  });
});
