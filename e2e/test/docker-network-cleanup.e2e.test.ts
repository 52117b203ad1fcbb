/**
 * Nothing is left behind: 50 containers started in parallel batches on a user-defined network,
 * each published on a host port, then `rm -f` and `network rm` — and no veth, bridge, iptables
 * rule, network namespace, host-local lease or mount of ours remains (compared before/after).
 */
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { GantrydHarness } from '../src/gantryd';
import { waitFor } from '@gantry/testkit';

const COUNT = 50;
const BATCH = 10;

describe('docker network cleanup', () => {
  let h: GantrydHarness;
  const name = `clean-${randomBytes(3).toString('hex')}`;
  const subnet = `10.${100 + Math.floor(Math.random() * 150)}.${Math.floor(Math.random() * 256)}.0/24`;
  const prefix = subnet.replace(/\.0\/24$/, '.');

  const dockerAsync = (args: string[]) =>
    new Promise<string>((resolve, reject) =>
      execFile('docker', args, { env: h.env(), encoding: 'utf8', timeout: 120000 }, (err, stdout, stderr) =>
        err ? reject(new Error(`docker ${args.join(' ')}: ${stderr}`)) : resolve(stdout),
      ),
    );

  /** What our network could leave on the host, by the names and addresses it uses. */
  const traces = (bridge: string, netId: string) => {
    const sh = (cmd: string[]) => spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8' }).stdout;
    const cniName = `gantry-${netId.slice(0, 12)}`;
    return {
      links: sh(['ip', '-o', 'link'])
        .split('\n')
        .filter((l) => l.includes(bridge)),
      iptables: sh(['iptables-save'])
        .split('\n')
        .filter((l) => l.includes(bridge) || l.includes(prefix) || l.includes(cniName)),
      netns: fs.existsSync(join(h.dir, 'run', 'netns')) ? fs.readdirSync(join(h.dir, 'run', 'netns')) : [],
      leases: fs.existsSync(join(h.dir, 'data', 'network', 'ipam', netId))
        ? fs.readdirSync(join(h.dir, 'data', 'network', 'ipam', netId), { recursive: true }).map((f) => String(f).split('/').pop()!)
        : [],
      mounts: fs
        .readFileSync('/proc/self/mounts', 'utf8')
        .split('\n')
        .filter((l) => l.includes(join(h.dir, 'run', 'netns'))),
    };
  };

  beforeAll(async () => {
    h = await GantrydHarness.start('gdc-');
    h.loadBusybox();
  }, 60000);

  afterAll(async () => {
    for (const id of h.docker(['ps', '-aq']).stdout.split('\n').filter(Boolean)) h.docker(['rm', '-f', id]);
    h.docker(['network', 'rm', name]);
    await h.stop();
  }, 120000);

  it(`runs ${COUNT} containers on a network, removes them and the network, and leaves nothing`, async () => {
    const iptablesBefore = spawnSync('iptables-save', [], { encoding: 'utf8' })
      .stdout.split('\n')
      .filter((l) => l.includes(prefix));
    expect(iptablesBefore).toEqual([]);
    const netId = h.ok(['network', 'create', '--subnet', subnet, name]).trim();
    const bridge = `gt-${netId.slice(0, 12)}`;
    const empty = traces(bridge, netId);
    expect(empty.links).toHaveLength(1); // the bridge itself
    expect(empty.netns).toEqual([]);

    const ids: string[] = [];
    for (let i = 0; i < COUNT; i += BATCH) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(BATCH, COUNT - i) }, () =>
          dockerAsync(['run', '-d', '--network', name, '-p', '127.0.0.1::80', 'busybox', 'sleep', '600']),
        ),
      );
      ids.push(...batch.map((s) => s.trim()));
    }
    const busy = traces(bridge, netId);
    expect(busy.netns).toHaveLength(COUNT);
    expect(busy.mounts).toHaveLength(COUNT);
    expect(busy.links.length).toBe(COUNT + 1); // a veth per container (enslaved to the bridge) and the bridge
    expect(busy.leases.filter((f) => f.startsWith(prefix))).toHaveLength(COUNT);
    const ips = new Set(ids.map((id) => h.ok(['inspect', '-f', `{{(index .NetworkSettings.Networks "${name}").IPAddress}}`, id]).trim()));
    expect(ips.size).toBe(COUNT); // no address handed out twice

    for (let i = 0; i < ids.length; i += BATCH) await dockerAsync(['rm', '-f', ...ids.slice(i, i + BATCH)]);
    const afterRm = traces(bridge, netId);
    expect(afterRm.netns).toEqual([]);
    expect(afterRm.mounts).toEqual([]);
    expect(afterRm.links).toHaveLength(1);
    expect(afterRm.leases.filter((f) => f.startsWith(prefix))).toEqual([]);

    h.ok(['network', 'rm', name]);
    const after = traces(bridge, netId);
    expect(after).toEqual({ links: [], iptables: [], netns: [], leases: [], mounts: [] });
  }, 240000);

  it('tears down the namespace of a container that exited while gantryd was down', async () => {
    const netId = h.ok(['network', 'create', '--subnet', subnet, name]).trim();
    const bridge = `gt-${netId.slice(0, 12)}`;
    // it exits once the test creates <gate>/go, which it does while gantryd is down
    const gate = join(h.dir, 'cleanup-gate');
    fs.mkdirSync(gate);
    const id = h.ok(['run', '-d', '--network', name, '-v', `${gate}:/gate:ro`, 'busybox', 'sh', '-c', 'until [ -e /gate/go ]; do sleep 0.05; done']).trim();
    const pid = Number(h.ok(['inspect', '-f', '{{.State.Pid}}', id]).trim());
    expect(traces(bridge, netId).netns).toEqual([id]);
    await h.stopDaemon('SIGKILL');
    fs.writeFileSync(join(gate, 'go'), '');
    await waitFor('the container to exit', () => !fs.existsSync(`/proc/${pid}`));
    await h.startDaemon();
    const deadline = Date.now() + 20000;
    while (traces(bridge, netId).netns.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    const t = traces(bridge, netId);
    expect(t.netns).toEqual([]);
    expect(t.mounts).toEqual([]);
    expect(t.leases.filter((f) => f.startsWith(prefix))).toEqual([]);
    expect(t.iptables.filter((l) => l.includes(id))).toEqual([]);
    expect(h.ok(['inspect', '-f', '{{.State.Status}}', id]).trim()).toBe('exited');
    // and it starts again on the same network (and runs until the gate opens again)
    fs.rmSync(join(gate, 'go'));
    h.ok(['start', id]);
    expect(
      h
        .ok(['inspect', '-f', `{{(index .NetworkSettings.Networks "${name}").IPAddress}}`, id])
        .trim()
        .startsWith(prefix),
    ).toBe(true);
  }, 60000);
});
