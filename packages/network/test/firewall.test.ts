/** The iptables rules of a bridge (pure; the root integration test is isolation-netns.test.ts). */
import { bridgeRules, FORWARD_CHAIN, HOST_RULES, INPUT_CHAIN, ISOLATION_1, ISOLATION_2, RAW_PREROUTING } from '../src/firewall';

const show = (b: Parameters<typeof bridgeRules>[0]) => bridgeRules(b).map((r) => `${r.table} ${r.chain} ${r.spec.join(' ')}`);

describe('bridge rules', () => {
  it('a network with a way out: isolation, replies and published ports in, its own traffic out, the rest from outside dropped last', () => {
    expect(show({ bridge: 'br0', internal: false, subnet: '10.1.0.0/24', dns: { address: '10.1.0.1', port: 53 } })).toEqual([
      `filter ${ISOLATION_1} -i br0 ! -o br0 -j ${ISOLATION_2}`,
      `filter ${ISOLATION_2} -o br0 -j DROP`,
      `filter ${FORWARD_CHAIN} -o br0 -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -j ACCEPT`,
      `filter ${FORWARD_CHAIN} -i br0 -j ACCEPT`,
      `filter ${FORWARD_CHAIN} -o br0 ! -i br0 -j DROP`,
      `filter ${INPUT_CHAIN} ! -i br0 -d 10.1.0.1/32 -p udp -m udp --dport 53 -j DROP`,
      `filter ${INPUT_CHAIN} ! -i br0 -d 10.1.0.1/32 -p tcp -m tcp --dport 53 -j DROP`,
    ]);
  });

  it('an internal network: nothing routed in or out of the bridge, and no host address outside its subnet', () => {
    const rules = show({ bridge: 'br1', internal: true, subnet: '10.2.0.0/24' });
    expect(rules.indexOf(`filter ${FORWARD_CHAIN} -i br1 ! -o br1 -j DROP`)).toBeLessThan(rules.indexOf(`filter ${FORWARD_CHAIN} -i br1 -j ACCEPT`));
    expect(rules.indexOf(`filter ${FORWARD_CHAIN} -o br1 ! -i br1 -j DROP`)).toBeLessThan(
      rules.indexOf(`filter ${FORWARD_CHAIN} -o br1 -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -j ACCEPT`),
    );
    expect(rules).toContain(`filter ${INPUT_CHAIN} -i br1 ! -d 10.2.0.0/24 -j DROP`);
    expect(rules.filter((r) => r.includes(INPUT_CHAIN))).toHaveLength(1); // no resolver given
  });

  it('drops 127/8 arriving on any interface but lo, before NAT', () => {
    expect(HOST_RULES).toEqual([{ table: 'raw', chain: RAW_PREROUTING, spec: ['!', '-i', 'lo', '-d', '127.0.0.0/8', '-j', 'DROP'] }]);
  });
});
