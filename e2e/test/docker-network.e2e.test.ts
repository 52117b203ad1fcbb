/**
 * Container networking through the real docker CLI against gantryd: user-defined bridges with
 * name/alias resolution by the embedded DNS, published ports reached from the host, `none` and
 * `host` modes, isolation between networks, connect/disconnect, and Docker's errors for bad input
 * leaving nothing half-made. Networks use random 10.x.y.0/24 subnets and unique names.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { join } from 'node:path';
import { freePort } from '@gantry/testkit';
import { type GantrydHarness, sharedGantryd } from '../src/gantryd';

const tag = randomBytes(3).toString('hex');
const subnet = () => `10.${100 + Math.floor(Math.random() * 150)}.${Math.floor(Math.random() * 256)}.0/24`;
const HTTPD = (text: string) => `mkdir -p /w && echo ${text} > /w/index.html && exec httpd -f -p 80 -h /w`;

function httpGet(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

async function poll<T>(f: () => Promise<T>, ms = 15000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await f();
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

describe('docker network against gantryd', () => {
  let h: GantrydHarness;
  const nets: string[] = [];
  const netns = () => fs.readdirSync(join(h.dir, 'run', 'netns')).sort();
  const mkNet = (name: string, sub = subnet()) => {
    h.ok(['network', 'create', '--subnet', sub, name]);
    nets.push(name);
    return sub;
  };

  beforeAll(async () => {
    h = await sharedGantryd();
  }, 60000);

  afterAll(async () => {
    for (const id of h.docker(['ps', '-aq']).stdout.split('\n').filter(Boolean)) h.docker(['rm', '-f', id]);
    for (const n of nets) h.docker(['network', 'rm', n]);
    await h.stop();
  }, 60000);

  it('lists the predefined networks and creates, inspects and filters a user-defined one', () => {
    const names = h.ok(['network', 'ls', '--format', '{{.Name}} {{.Driver}}']).trim().split('\n');
    expect(names).toEqual(expect.arrayContaining(['bridge bridge', 'host host', 'none null']));
    const sub = mkNet(`ls-${tag}`);
    const info = JSON.parse(h.ok(['network', 'inspect', `ls-${tag}`]))[0];
    expect(info.Driver).toBe('bridge');
    expect(info.IPAM.Config[0].Subnet).toBe(sub);
    expect(info.IPAM.Config[0].Gateway).toBe(sub.replace(/0\/24$/, '1'));
    expect(h.ok(['network', 'ls', '-q', '--filter', `name=ls-${tag}`]).trim()).toBe(info.Id.slice(0, 12));
    expect(h.ok(['network', 'ls', '--filter', 'type=custom', '--format', '{{.Name}}'])).toContain(`ls-${tag}`);
    expect(h.ok(['network', 'ls', '--filter', 'type=builtin', '--format', '{{.Name}}'])).not.toContain(`ls-${tag}`);
  });

  it('resolves containers by name and alias on a user-defined network', () => {
    const n = `app-${tag}`;
    const sub = mkNet(n);
    h.ok(['run', '-d', '--name', `srv-${tag}`, '--network', n, '--network-alias', 'web', 'busybox', 'sh', '-c', HTTPD('hello-from-srv')]);
    const out = h.ok([
      'run',
      '--rm',
      '--network',
      n,
      'busybox',
      'sh',
      '-c',
      `ping -c1 -W5 srv-${tag} && nslookup web && for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://web/ && break; sleep 0.5; done`,
    ]);
    expect(out).toMatch(/1 packets received/);
    expect(out).toMatch(new RegExp(`Name:\\s+web\\s+Address: ${sub.replace(/\.0\/24$/, '')}\\.\\d+`));
    expect(out).toContain('hello-from-srv');
    const inspect = JSON.parse(h.ok(['inspect', `srv-${tag}`]))[0];
    const ep = inspect.NetworkSettings.Networks[n];
    expect(ep.IPAddress.startsWith(sub.replace(/0\/24$/, ''))).toBe(true);
    expect(ep.Gateway).toBe(sub.replace(/0\/24$/, '1'));
    expect(ep.MacAddress).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    expect(ep.Aliases).toContain('web');
    // the network lists it, and refuses removal while it is attached
    expect(Object.values(JSON.parse(h.ok(['network', 'inspect', n]))[0].Containers).map((c) => (c as { Name: string }).Name)).toEqual([`srv-${tag}`]);
    const rm = h.docker(['network', 'rm', n]);
    expect(rm.status).not.toBe(0);
    expect(rm.stderr).toContain(`error while removing network: network ${n} has active endpoints`);
  });

  it('gives a static --ip and connects/disconnects a running container', () => {
    const a = `sa-${tag}`;
    const b = `sb-${tag}`;
    const subA = mkNet(a);
    mkNet(b);
    const ip = subA.replace(/0\/24$/, '77');
    h.ok(['run', '-d', '--name', `st-${tag}`, '--network', a, '--ip', ip, 'busybox', 'sleep', '300']);
    expect(h.ok(['inspect', '-f', `{{(index .NetworkSettings.Networks "${a}").IPAddress}}`, `st-${tag}`]).trim()).toBe(ip);
    h.ok(['network', 'connect', '--alias', 'second', b, `st-${tag}`]);
    expect(h.ok(['exec', `st-${tag}`, 'ip', '-o', 'link'])).toContain('eth1');
    expect(h.ok(['run', '--rm', '--network', b, 'busybox', 'ping', '-c1', '-W5', 'second'])).toMatch(/1 packets received/);
    h.ok(['network', 'disconnect', b, `st-${tag}`]);
    expect(h.ok(['exec', `st-${tag}`, 'ip', '-o', 'link'])).not.toContain('eth1');
  });

  it('publishes ports to the host: -p ip:host:ctr, -P, docker port, docker ps', async () => {
    const port = await freePort();
    h.ok(['run', '-d', '--name', `pub-${tag}`, '-p', `127.0.0.1:${port}:80`, 'busybox', 'sh', '-c', HTTPD('published-ok')]);
    expect(await poll(() => httpGet(port))).toContain('published-ok');
    expect(h.ok(['port', `pub-${tag}`]).trim()).toBe(`80/tcp -> 127.0.0.1:${port}`);
    expect(h.ok(['ps', '--filter', `name=pub-${tag}`, '--format', '{{.Ports}}']).trim()).toBe(`127.0.0.1:${port}->80/tcp`);

    h.ok(['run', '-d', '--name', `all-${tag}`, '--expose', '80', '-P', 'busybox', 'sh', '-c', HTTPD('random-port-ok')]);
    const line = h
      .ok(['port', `all-${tag}`, '80/tcp'])
      .trim()
      .split('\n')[0]!;
    const random = Number(/:(\d+)$/.exec(line)?.[1]);
    expect(random).toBeGreaterThan(1024);
    expect(await poll(() => httpGet(random))).toContain('random-port-ok');
  });

  it('refuses a host port that is taken, leaving no namespace behind', async () => {
    const port = await freePort();
    const blocker = net.createServer().listen(port, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    try {
      const before = netns();
      const r = h.docker(['run', '--rm', '-p', `127.0.0.1:${port}:80`, 'busybox', 'true']);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain(`Bind for 127.0.0.1:${port} failed: port is already allocated`);
      expect(netns()).toEqual(before);
      // --rm: the container that could not start is removed
      expect(h.ok(['ps', '-aq', '--filter', 'status=created']).trim()).toBe('');
    } finally {
      blocker.close();
    }
  });

  it('--network none has only lo; --network host sees the host interfaces', () => {
    const none = h.ok(['run', '--rm', '--network', 'none', 'busybox', 'ip', '-o', 'link']).trim().split('\n');
    expect(none).toHaveLength(1);
    expect(none[0]).toMatch(/^1: lo: <LOOPBACK,UP/);
    const hostLinks = spawnSync('ip', ['-o', 'link'], { encoding: 'utf8' })
      .stdout.split('\n')
      .map((l) => l.split(': ')[1]?.split('@')[0])
      .filter((n): n is string => !!n && !n.startsWith('veth'));
    const inHost = h.ok(['run', '--rm', '--network', 'host', 'busybox', 'ip', '-o', 'link']);
    for (const n of hostLinks.slice(0, 3)) expect(inHost).toContain(`: ${n}`);
    expect(
      JSON.parse(h.ok(['inspect', '-f', '{{json .NetworkSettings.Networks}}', h.ok(['create', '--network', 'none', 'busybox', 'true']).trim()])),
    ).toHaveProperty('none');
  });

  it('isolates containers on different user-defined networks', () => {
    const a = `iso-a-${tag}`;
    const b = `iso-b-${tag}`;
    mkNet(a);
    mkNet(b);
    h.ok(['run', '-d', '--name', `iso-${tag}`, '--network', a, 'busybox', 'sleep', '300']);
    const ip = h.ok(['inspect', '-f', `{{(index .NetworkSettings.Networks "${a}").IPAddress}}`, `iso-${tag}`]).trim();
    expect(h.ok(['run', '--rm', '--network', a, 'busybox', 'ping', '-c1', '-W5', ip])).toMatch(/1 packets received/);
    const other = h.docker(['run', '--rm', '--network', b, 'busybox', 'ping', '-c1', '-W2', ip]);
    expect(other.status).not.toBe(0);
    expect(other.stdout).toMatch(/0 packets received/);
  });

  it("answers bad input with Docker's errors and creates nothing", async () => {
    const sub = mkNet(`ov-${tag}`);
    const lsBefore = h.ok(['network', 'ls', '-q']);
    // the refused network's bridge is named, so its absence is checked by name: other suites (in
    // the other jest worker) make and remove gt-* bridges meanwhile
    const ovBridge = `ov2-${tag}`;
    const ov = h.docker(['network', 'create', '--subnet', sub, '-o', `com.docker.network.bridge.name=${ovBridge}`, `ov2-${tag}`]);
    expect(ov.status).not.toBe(0);
    expect(ov.stderr).toContain('Pool overlaps with other one on this address space');
    expect(h.ok(['network', 'ls', '-q'])).toBe(lsBefore);
    expect(spawnSync('ip', ['link', 'show', 'dev', ovBridge], { encoding: 'utf8' }).status).not.toBe(0);

    expect(h.docker(['network', 'create', `ov-${tag}`]).stderr).toContain(`network with name ov-${tag} already exists`);

    const psBefore = h.ok(['ps', '-aq']);
    const badIp = h.docker(['run', '--rm', '--network', `ov-${tag}`, '--ip', '192.0.2.200', 'busybox', 'true']);
    expect(badIp.status).not.toBe(0);
    expect(badIp.stderr).toContain('no configured subnet or ip-range contain the IP address 192.0.2.200');
    const unknown = await h.request('POST', '/containers/create', JSON.stringify({ Image: 'busybox', HostConfig: { NetworkMode: `nosuch-${tag}` } }));
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.body).message).toBe(`network nosuch-${tag} not found`);
    expect(h.docker(['run', '--rm', '--network', `nosuch-${tag}`, 'busybox', 'true']).status).not.toBe(0);
    expect(h.ok(['ps', '-aq'])).toBe(psBefore);

    const pre = h.docker(['network', 'rm', 'bridge']);
    expect(pre.stderr).toContain('bridge is a pre-defined network and cannot be removed');
  });
});
