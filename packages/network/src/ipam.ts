/** Address management decisions made before host-local runs: pools, gateways, ranges, static addresses. */
import { AddressError, cidrContains, cidrOverlaps, formatCidr, formatIPv4, lastAddress, parseCidr, parseIPv4, type Cidr } from './ip';
import { forbidden, invalid } from './errors';
import type { IpamPool } from './store';

export interface PoolRequest {
  Subnet?: string;
  Gateway?: string;
  IPRange?: string;
}

/**
 * Validate a requested pool (Docker's checks and messages) and fill in the gateway: the first
 * address of the subnet unless given. `taken` are the subnets of other networks: an overlap is
 * refused as Docker refuses it.
 */
export function resolvePool(req: PoolRequest, taken: string[]): IpamPool {
  if (!req.Subnet) throw invalid('a subnet is required when a gateway or IP range is given');
  let subnet: Cidr;
  try {
    subnet = parseCidr(req.Subnet);
  } catch {
    throw invalid(`invalid subnet ${req.Subnet} : invalid CIDR address: ${req.Subnet}`);
  }
  if (subnet.prefix > 30) throw invalid(`invalid subnet ${req.Subnet}: too small for a network`);
  for (const t of taken) {
    if (cidrOverlaps(subnet, parseCidr(t))) throw forbidden('invalid pool request: Pool overlaps with other one on this address space');
  }
  let gateway = subnet.network + 1;
  if (req.Gateway) {
    try {
      gateway = parseIPv4(req.Gateway);
    } catch {
      throw invalid(`invalid gateway address ${req.Gateway} in Subnet ${req.Subnet}`);
    }
    if (!cidrContains(subnet, gateway) || gateway === subnet.network || gateway === lastAddress(subnet))
      throw invalid(`no matching subnet for gateway ${req.Gateway}`);
  }
  const pool: IpamPool = { Subnet: formatCidr(subnet), Gateway: formatIPv4(gateway) };
  if (req.IPRange) {
    let range: Cidr;
    try {
      range = parseCidr(req.IPRange);
    } catch {
      throw invalid(`invalid ip-range ${req.IPRange}: invalid CIDR address: ${req.IPRange}`);
    }
    if (range.prefix < subnet.prefix || !cidrContains(subnet, range.network)) throw invalid(`no matching subnet for range ${req.IPRange}`);
    // host-local needs at least one address that is neither the subnet's network nor its broadcast
    if (Math.max(range.network, subnet.network + 1) > Math.min(lastAddress(range), lastAddress(subnet) - 1))
      throw invalid(`invalid ip-range ${req.IPRange}: no usable address in subnet ${req.Subnet}`);
    pool.IPRange = formatCidr(range);
  }
  return pool;
}

/** host-local's range for a pool: the whole subnet, or IPRange's usable addresses. */
export function hostLocalRange(pool: IpamPool): Record<string, string> {
  const r: Record<string, string> = { subnet: pool.Subnet, gateway: pool.Gateway };
  if (pool.IPRange) {
    const range = parseCidr(pool.IPRange);
    const subnet = parseCidr(pool.Subnet);
    const first = Math.max(range.network, subnet.network + 1);
    const last = Math.min(lastAddress(range), lastAddress(subnet) - 1);
    r.rangeStart = formatIPv4(first);
    r.rangeEnd = formatIPv4(last);
  }
  return r;
}

/** Check a static address (--ip) against the network's pools: Docker's message when it fits none. */
export function checkStaticAddress(ip: string, pools: IpamPool[]): void {
  let n: number;
  try {
    n = parseIPv4(ip);
  } catch (e) {
    throw invalid(`invalid IPv4 address: ${ip}${e instanceof AddressError ? '' : ''}`);
  }
  const fits = pools.some((p) => {
    const s = parseCidr(p.Subnet);
    const within = p.IPRange ? parseCidr(p.IPRange) : s;
    return cidrContains(within, n) && n !== s.network && n !== lastAddress(s) && formatIPv4(n) !== p.Gateway;
  });
  if (!fits) throw invalid(`invalid endpoint settings:\nno configured subnet or ip-range contain the IP address ${ip}`);
}

/**
 * The default bridge's subnet: the first 172.17–31.0.0/16 (then 10.x/16s… not needed in
 * practice) clear of the host's routes and of other networks.
 */
export function pickDefaultSubnet(routes: string[], taken: string[]): string {
  const busy = [...routes, ...taken].flatMap((r) => {
    try {
      return [parseCidr(r)];
    } catch {
      return [];
    }
  });
  for (let second = 17; second <= 31; second++) {
    const c: Cidr = { network: parseIPv4(`172.${second}.0.0`), prefix: 16 };
    if (!busy.some((b) => cidrOverlaps(b, c))) return formatCidr(c);
  }
  for (let second = 0; second < 256; second++) {
    const c: Cidr = { network: parseIPv4(`10.${second}.0.0`), prefix: 16 };
    if (!busy.some((b) => cidrOverlaps(b, c))) return formatCidr(c);
  }
  throw invalid('could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network');
}

/**
 * A subnet for a user-defined network created without one: the first free /16 of 172.18–31
 * then /20s of 192.168 as Docker's default pools (172.17 is left to the default bridge).
 */
export function pickUserSubnet(routes: string[], taken: string[]): string {
  const busy = [...routes, ...taken].flatMap((r) => {
    try {
      return [parseCidr(r)];
    } catch {
      return [];
    }
  });
  const candidates: Cidr[] = [];
  for (let second = 18; second <= 31; second++) candidates.push({ network: parseIPv4(`172.${second}.0.0`), prefix: 16 });
  for (let third = 0; third < 256; third += 16) candidates.push({ network: parseIPv4(`192.168.${third}.0`), prefix: 20 });
  const free = candidates.find((c) => !busy.some((b) => cidrOverlaps(b, c)));
  if (!free) throw forbidden('could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network');
  return formatCidr(free);
}
