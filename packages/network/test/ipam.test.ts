import { checkStaticAddress, hostLocalRange, pickDefaultSubnet, pickUserSubnet, resolvePool } from '../src/ipam';
import { cidrOverlaps, formatIPv4, parseCidr, parseIPv4 } from '../src/ip';
import { NetworkError } from '../src/errors';

describe('IPv4 helpers', () => {
  it('parses, formats and compares blocks', () => {
    expect(formatIPv4(parseIPv4('10.1.2.3'))).toBe('10.1.2.3');
    expect(() => parseIPv4('10.1.2.256')).toThrow('invalid IPv4 address');
    expect(parseCidr('10.1.2.9/24')).toEqual({ network: parseIPv4('10.1.2.0'), prefix: 24 });
    expect(cidrOverlaps(parseCidr('10.1.0.0/16'), parseCidr('10.1.2.0/24'))).toBe(true);
    expect(cidrOverlaps(parseCidr('10.1.2.0/24'), parseCidr('10.1.3.0/24'))).toBe(false);
  });
});

describe('resolvePool', () => {
  it('fills the gateway with the first address and canonicalises the subnet', () => {
    expect(resolvePool({ Subnet: '10.9.8.7/24' }, [])).toEqual({ Subnet: '10.9.8.0/24', Gateway: '10.9.8.1' });
  });
  it('keeps a given gateway and ip-range inside the subnet', () => {
    expect(resolvePool({ Subnet: '10.9.0.0/16', Gateway: '10.9.0.254', IPRange: '10.9.4.0/24' }, [])).toEqual({
      Subnet: '10.9.0.0/16',
      Gateway: '10.9.0.254',
      IPRange: '10.9.4.0/24',
    });
  });
  it('refuses an overlapping subnet as Docker does (403)', () => {
    let err: unknown;
    try {
      resolvePool({ Subnet: '10.9.8.0/24' }, ['10.9.0.0/16']);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NetworkError);
    expect((err as NetworkError).kind).toBe('permission-denied');
    expect((err as Error).message).toBe('invalid pool request: Pool overlaps with other one on this address space');
  });
  it('refuses gateways and ranges outside the subnet, and bad CIDRs', () => {
    expect(() => resolvePool({ Subnet: '10.9.8.0/24', Gateway: '10.9.9.1' }, [])).toThrow('no matching subnet for gateway 10.9.9.1');
    expect(() => resolvePool({ Subnet: '10.9.8.0/24', IPRange: '10.9.0.0/16' }, [])).toThrow('no matching subnet for range');
    expect(() => resolvePool({ Subnet: 'nonsense' }, [])).toThrow('invalid CIDR address');
  });
});

describe('host-local ranges and static addresses', () => {
  it('turns an ip-range into rangeStart/rangeEnd, skipping network and broadcast addresses', () => {
    expect(hostLocalRange({ Subnet: '10.9.8.0/24', Gateway: '10.9.8.1' })).toEqual({ subnet: '10.9.8.0/24', gateway: '10.9.8.1' });
    expect(hostLocalRange({ Subnet: '10.9.0.0/16', Gateway: '10.9.0.1', IPRange: '10.9.4.0/24' })).toEqual({
      subnet: '10.9.0.0/16',
      gateway: '10.9.0.1',
      rangeStart: '10.9.4.0',
      rangeEnd: '10.9.4.255',
    });
    expect(hostLocalRange({ Subnet: '10.9.8.0/24', Gateway: '10.9.8.1', IPRange: '10.9.8.0/25' })).toMatchObject({
      rangeStart: '10.9.8.1',
      rangeEnd: '10.9.8.127',
    });
  });
  it("accepts an address in the subnet (or range) and refuses others with Docker's message", () => {
    const pools = [{ Subnet: '10.9.8.0/24', Gateway: '10.9.8.1' }];
    expect(() => checkStaticAddress('10.9.8.50', pools)).not.toThrow();
    expect(() => checkStaticAddress('10.9.9.50', pools)).toThrow('no configured subnet or ip-range contain the IP address 10.9.9.50');
    expect(() => checkStaticAddress('10.9.8.1', pools)).toThrow(); // the gateway
    expect(() => checkStaticAddress('10.9.8.255', pools)).toThrow(); // broadcast
    expect(() => checkStaticAddress('10.9.8.20', [{ ...pools[0]!, IPRange: '10.9.8.128/25' }])).toThrow();
  });
});

describe('default subnets', () => {
  it('picks the first 172.x/16 clear of host routes and other networks', () => {
    expect(pickDefaultSubnet([], [])).toBe('172.17.0.0/16');
    expect(pickDefaultSubnet(['172.17.5.0/24', '192.0.2.0/24'], ['172.18.0.0/16'])).toBe('172.19.0.0/16');
    expect(pickUserSubnet(['172.18.0.0/16'], ['172.19.0.0/16'])).toBe('172.20.0.0/16');
  });
});
