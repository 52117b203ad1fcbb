/**
 * `docker network create --internal` through the real docker CLI against gantryd: a container on an
 * internal network reaches its peers there (by name, through the embedded resolver) and nothing
 * outside its subnet — not a host listener on the default bridge's gateway, not a container on
 * another network — even after it routes there itself (CAP_NET_ADMIN, a default route via its
 * gateway), while a container on an ordinary network does reach that listener (but not the internal
 * network's resolver); and no NAT rule exists for the internal network. Everything here stays on the host's own bridges.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { type GantrydHarness, sharedGantryd } from '../src/gantryd';

const tag = randomBytes(3).toString('hex');
const HTTPD = (text: string) => `mkdir -p /w && echo ${text} > /w/index.html && exec httpd -f -p 80 -h /w`;
/** Fetch a URL from a container: prints the body, or FAIL (`timeout` bounds a dropped connection; busybox wget -T crashes). */
const FETCH = (url: string) => `(timeout 2 wget -qO- ${url} || echo FAIL:${url})`;
/** The same, retried while the server may still be starting (a peer just run with -d). */
const FETCH_RETRY = (url: string) => `(for i in $(seq 1 30); do timeout 2 wget -qO- ${url} && exit 0; sleep 0.2; done; echo FAIL:${url})`;

describe('--internal networks against gantryd', () => {
  let h: GantrydHarness;
  let listener: ChildProcess | undefined;
  const a = 100 + Math.floor(Math.random() * 150);
  const b = Math.floor(Math.random() * 250);
  const intSub = `10.${a}.${b}`;
  const extSub = `10.${a}.${b + 1}`;
  const intNet = `int-${tag}`;
  const extNet = `ext-${tag}`;

  beforeAll(async () => {
    h = await sharedGantryd();
    h.ok(['network', 'create', '--internal', '--subnet', `${intSub}.0/24`, intNet]);
    h.ok(['network', 'create', '--subnet', `${extSub}.0/24`, extNet]);
  }, 90000);

  afterAll(async () => {
    if (listener && listener.exitCode === null) listener.kill('SIGKILL');
    for (const id of h.docker(['ps', '-aq']).stdout.split('\n').filter(Boolean)) h.docker(['rm', '-f', id]);
    for (const n of [intNet, extNet]) h.docker(['network', 'rm', n]);
    await h.stop();
  }, 60000);

  it('reaches its peer but nothing outside its subnet, and has no NAT rule', async () => {
    const info = JSON.parse(h.ok(['network', 'inspect', intNet]))[0];
    expect(info.Internal).toBe(true);
    const short = (info.Id as string).slice(0, 12);
    const bridgeGw = h.ok(['network', 'inspect', 'bridge', '-f', '{{(index .IPAM.Config 0).Gateway}}']).trim();
    expect(bridgeGw).toMatch(/^\d+\.\d+\.\d+\.\d+$/);

    // a host service on the default bridge's gateway (a host address outside the internal subnet)
    const port = 20000 + Math.floor(Math.random() * 20000);
    listener = spawn(
      process.execPath,
      ['-e', `require('http').createServer((q,s)=>s.end('host-listener')).listen(${port},'${bridgeGw}',()=>console.log('ready'))`],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve, reject) => {
      listener!.stdout!.on('data', (c: Buffer) => c.toString().includes('ready') && resolve());
      listener!.on('exit', (code) => reject(new Error(`listener exited ${code}`)));
    });

    h.ok(['run', '-d', '--name', `peer-${tag}`, '--network', intNet, 'busybox', 'sh', '-c', HTTPD('internal-peer')]);
    h.ok(['run', '-d', '--name', `other-${tag}`, '--network', extNet, 'busybox', 'sh', '-c', HTTPD('other-network')]);
    const otherIp = h.ok(['inspect', '-f', `{{(index .NetworkSettings.Networks "${extNet}").IPAddress}}`, `other-${tag}`]).trim();

    // an ordinary network's container reaches both: the listener and the other container work
    // (and cannot ask the internal network's resolver, which answers its own bridge only)
    const control = h.ok([
      'run',
      '--rm',
      '--network',
      extNet,
      'busybox',
      'sh',
      '-c',
      `${FETCH_RETRY(`http://${bridgeGw}:${port}/`)}; ${FETCH_RETRY(`http://${otherIp}/`)}; timeout 3 nslookup peer-${tag} ${intSub}.1 || echo DNSFAIL`,
    ]);
    expect(control).toContain('host-listener');
    expect(control).toContain('other-network');
    expect(control).toContain('DNSFAIL');
    expect(control).not.toMatch(new RegExp(`Address: ${intSub.replace(/\./g, '\\.')}\\.`));

    const script = [
      FETCH_RETRY(`http://peer-${tag}/`),
      // as it comes: no route out of the subnet
      FETCH(`http://${bridgeGw}:${port}/`),
      // routed out through its gateway by hand: the host drops it
      `ip route add default via ${intSub}.1`,
      'ip route',
      FETCH(`http://${bridgeGw}:${port}/`),
      FETCH(`http://${otherIp}/`),
      FETCH(`http://peer-${tag}/`),
    ].join('; ');
    const out = h.ok(['run', '--rm', '--cap-add', 'NET_ADMIN', '--network', intNet, 'busybox', 'sh', '-c', script]);
    expect(out.match(/internal-peer/g)).toHaveLength(2);
    expect(out).toContain(`default via ${intSub}.1`);
    expect(out.match(new RegExp(`FAIL:http://${bridgeGw.replace(/\./g, '\\.')}:${port}/`, 'g'))).toHaveLength(2);
    expect(out).toContain(`FAIL:http://${otherIp}/`);
    expect(out).not.toContain('host-listener');
    expect(out).not.toContain('other-network');

    // no masquerading or other NAT for the internal network; the ordinary one has its masquerade
    const nat = spawnSync('iptables-save', ['-t', 'nat'], { encoding: 'utf8' }).stdout.split('\n');
    expect(nat.filter((l) => l.includes(`${intSub}.`) || l.includes(`gantry-${short}`) || l.includes(`gt-${short}`))).toEqual([]);
    const extShort = (JSON.parse(h.ok(['network', 'inspect', extNet]))[0].Id as string).slice(0, 12);
    expect(nat.some((l) => l.includes(`gantry-${extShort}`) && l.includes('MASQUERADE'))).toBe(true);
  }, 120000);
});
