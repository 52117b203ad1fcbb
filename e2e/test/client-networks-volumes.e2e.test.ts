/**
 * @gantry/client's network and volume endpoints against a running gantryd: create, list with
 * filters, inspect, connect/disconnect a running container (seen in its inspect), remove, prune,
 * and a volume mounted into a container.
 */
import { ConflictError, type EngineClient, ForbiddenError, NotFoundError } from '@gantry/client';
import { describeIf, needRoot } from '@gantry/testkit';
import { clientFor, collect } from '../src/client';
import { type GantrydHarness, sharedGantryd } from '../src/gantryd';

const d = describeIf(needRoot());

/** A random 10.x.y.0/24, as the other network suites pick theirs. */
const subnet = () => `10.${100 + Math.floor(Math.random() * 150)}.${Math.floor(Math.random() * 256)}.0/24`;

d('client: networks and volumes', () => {
  let h: GantrydHarness;
  let client: EngineClient;
  const tag = `${process.pid}`;

  beforeAll(async () => {
    h = await sharedGantryd();
    client = clientFor(h);
  }, 120000);

  afterAll(async () => {
    await h?.stop();
  }, 60000);

  it('creates, lists, inspects and removes a network', async () => {
    const sub = subnet();
    const net = await client.networks.create({ Name: `client-net-${tag}`, IPAM: { Config: [{ Subnet: sub }] }, Labels: { suite: `client-${tag}` } });
    expect(net.Id).toMatch(/^[0-9a-f]{64}$/);
    const listed = await client.networks.list({ filters: { label: [`suite=client-${tag}`] } });
    expect(listed.map((n) => n.Name)).toEqual([`client-net-${tag}`]);
    const info = await client.networks.inspect(`client-net-${tag}`);
    expect(info).toMatchObject({ Id: net.Id, Driver: 'bridge', Scope: 'local' });
    expect(info.IPAM.Config?.[0]?.Subnet).toBe(sub);
    await expect(client.networks.create({ Name: `client-net-${tag}` })).rejects.toBeInstanceOf(ConflictError);
    await client.networks.remove(net.Id);
    await expect(client.networks.inspect(net.Id)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('connects a running container to a network and disconnects it', async () => {
    const net = await client.networks.create({ Name: `client-conn-${tag}`, IPAM: { Config: [{ Subnet: subnet() }] } });
    const { Id } = await client.containers.create({ Image: 'busybox', Cmd: ['sleep', '300'] });
    await client.containers.start(Id);
    await client.networks.connect(net.Id, { Container: Id, EndpointConfig: { Aliases: ['via-client'] } });
    const inspected = await client.containers.inspect(Id);
    const ep = inspected.NetworkSettings.Networks[`client-conn-${tag}`];
    expect(ep?.NetworkID).toBe(net.Id);
    expect(ep?.IPAddress).toMatch(/^10\./);
    expect(Object.keys((await client.networks.inspect(net.Id)).Containers)).toEqual([Id]);
    // in use: 403, as dockerd answers for a network with active endpoints
    await expect(client.networks.remove(net.Id)).rejects.toBeInstanceOf(ForbiddenError);
    await client.networks.disconnect(net.Id, { Container: Id });
    expect((await client.containers.inspect(Id)).NetworkSettings.Networks[`client-conn-${tag}`]).toBeUndefined();
    await client.containers.remove(Id, { force: true });
    await client.networks.remove(net.Id);
  });

  it('prunes unused networks', async () => {
    const net = await client.networks.create({ Name: `client-prune-${tag}`, Labels: { prune: tag }, IPAM: { Config: [{ Subnet: subnet() }] } });
    const pruned = await client.networks.prune({ filters: { label: [`prune=${tag}`] } });
    expect(pruned.NetworksDeleted).toEqual([`client-prune-${tag}`]);
    await expect(client.networks.inspect(net.Id)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('creates, lists, inspects, mounts and removes a volume', async () => {
    const name = `client-vol-${tag}`;
    const v = await client.volumes.create({ Name: name, Labels: { suite: `client-${tag}` } });
    expect(v).toMatchObject({ Name: name, Driver: 'local', Scope: 'local' });
    const listed = await client.volumes.list({ filters: { label: [`suite=client-${tag}`] } });
    expect(listed.Volumes?.map((x) => x.Name)).toEqual([name]);
    expect((await client.volumes.inspect(name)).Mountpoint).toBe(v.Mountpoint);

    const writer = await client.containers.create({ Image: 'busybox', Cmd: ['sh', '-c', 'echo kept > /data/f'], HostConfig: { Binds: [`${name}:/data`] } });
    await client.containers.start(writer.Id);
    await client.containers.wait(writer.Id);
    const reader = await client.containers.create({
      Image: 'busybox',
      Cmd: ['cat', '/data/f'],
      HostConfig: { Mounts: [{ Type: 'volume', Source: name, Target: '/data' }] },
    });
    await client.containers.start(reader.Id);
    await client.containers.wait(reader.Id);
    expect(await collect(client.containers.logs(reader.Id))).toBe('kept\n');

    await expect(client.volumes.remove(name)).rejects.toBeInstanceOf(ConflictError); // in use
    await client.containers.remove(writer.Id);
    await client.containers.remove(reader.Id);
    await client.volumes.remove(name);
    await expect(client.volumes.inspect(name)).rejects.toBeInstanceOf(NotFoundError);
    await client.volumes.remove(name, { force: true }); // gone already: force is quiet
  });

  it('prunes unused volumes', async () => {
    const name = `client-vprune-${tag}`;
    await client.volumes.create({ Name: name, Labels: { prune: tag } });
    const pruned = await client.volumes.prune({ filters: { all: ['true'], label: [`prune=${tag}`] } });
    expect(pruned.VolumesDeleted).toEqual([name]);
  });
});
