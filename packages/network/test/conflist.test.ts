import { bridgeConflist, cniNetworkName } from '../src/conflist';
import { CniInvoker, type CniConfList, type ExecOutput } from '../src/cni';
import { networkRecord, type NetworkRecord } from '../src/store';

const net = (over: Partial<NetworkRecord> = {}): NetworkRecord =>
  networkRecord({
    Name: 'app',
    Id: 'abcdef0123456789'.repeat(4),
    Driver: 'bridge',
    IPAM: { Driver: 'default', Options: null, Config: [{ Subnet: '10.5.0.0/24', Gateway: '10.5.0.1' }] },
    Bridge: 'gt-abcdef012345',
    ...over,
  });

describe('bridgeConflist', () => {
  it('chains bridge (host-local IPAM, masquerade, default route) and portmap', () => {
    const l = bridgeConflist(net(), { ipamDir: '/d/ipam' });
    expect(l.cniVersion).toBe('1.0.0');
    expect(l.name).toBe('gantry-abcdef012345');
    expect(l.plugins.map((p) => p.type)).toEqual(['bridge', 'portmap']);
    expect(l.plugins[0]).toMatchObject({
      bridge: 'gt-abcdef012345',
      isGateway: true,
      ipMasq: true,
      capabilities: { ips: true },
      ipam: { type: 'host-local', dataDir: '/d/ipam', ranges: [[{ subnet: '10.5.0.0/24', gateway: '10.5.0.1' }]], routes: [{ dst: '0.0.0.0/0' }] },
    });
    expect(l.plugins[1]).toMatchObject({ capabilities: { portMappings: true } });
  });
  it('gives an internal network no masquerading and no default route', () => {
    const p = bridgeConflist(net({ Internal: true }), { ipamDir: '/d' }).plugins[0]!;
    expect(p.ipMasq).toBe(false);
    expect((p.ipam as Record<string, unknown>).routes).toBeUndefined();
  });
  it('names the default network after its bridge', () => {
    expect(cniNetworkName(net({ Name: 'bridge', Bridge: 'gantry0' }))).toBe('gantry-gantry0');
  });
});

describe('CniInvoker', () => {
  const calls: { env: NodeJS.ProcessEnv; conf: Record<string, unknown> }[] = [];
  const fakeExec =
    (results: Record<string, ExecOutput>) =>
    async (binary: string, env: NodeJS.ProcessEnv, stdin: string): Promise<ExecOutput> => {
      calls.push({ env, conf: JSON.parse(stdin) as Record<string, unknown> });
      return results[`${env.CNI_COMMAND} ${binary.split('/').pop()}`] ?? { code: 0, stdout: '', stderr: '' };
    };
  beforeEach(() => (calls.length = 0));
  const list: CniConfList = {
    cniVersion: '1.0.0',
    name: 'n',
    plugins: [
      { type: 'bridge', capabilities: { ips: true } },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  };
  const rt = {
    containerId: 'c1',
    netns: '/run/ns/c1',
    ifName: 'eth0',
    capabilityArgs: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp', hostIP: '0.0.0.0' }], ips: ['10.5.0.9/24'] },
  };
  const inv = (results: Record<string, ExecOutput>) => new CniInvoker([__dirname + '/fixtures'], fakeExec(results));

  it('ADDs in order with the CNI environment, runtimeConfig by capability and prevResult chaining', async () => {
    const bridgeResult = { cniVersion: '1.0.0', ips: [{ address: '10.5.0.9/24', gateway: '10.5.0.1' }] };
    const out = await inv({
      'ADD bridge': { code: 0, stdout: JSON.stringify(bridgeResult), stderr: '' },
      'ADD portmap': { code: 0, stdout: JSON.stringify(bridgeResult), stderr: '' },
    }).add(list, rt);
    expect(out).toEqual(bridgeResult);
    expect(calls.map((c) => c.env.CNI_COMMAND)).toEqual(['ADD', 'ADD']);
    expect(calls[0]!.env).toMatchObject({ CNI_CONTAINERID: 'c1', CNI_NETNS: '/run/ns/c1', CNI_IFNAME: 'eth0', CNI_PATH: __dirname + '/fixtures' });
    expect(calls[0]!.conf).toMatchObject({ name: 'n', cniVersion: '1.0.0', runtimeConfig: { ips: ['10.5.0.9/24'] } });
    expect(calls[0]!.conf.prevResult).toBeUndefined();
    expect(calls[1]!.conf).toMatchObject({ runtimeConfig: { portMappings: rt.capabilityArgs.portMappings }, prevResult: bridgeResult });
  });

  it('DELs in reverse order, runs every plugin and reports the first error parsed from JSON', async () => {
    const err = { code: 0, stdout: '', stderr: '' };
    await expect(
      inv({
        'DEL portmap': { code: 1, stdout: JSON.stringify({ cniVersion: '1.0.0', code: 7, msg: 'chain busy', details: 'x' }), stderr: '' },
        'DEL bridge': err,
      }).del(list, rt),
    ).rejects.toThrow('plugin type="portmap" failed (code 7): chain busy: x');
    expect(calls.map((c) => `${String(c.env.CNI_COMMAND)} ${String(c.conf.type)}`)).toEqual(['DEL portmap', 'DEL bridge']);
  });

  it('reports a plugin that is not found', async () => {
    await expect(new CniInvoker(['/nonexistent']).add(list, rt)).rejects.toThrow('failed to find plugin "bridge"');
  });
});
