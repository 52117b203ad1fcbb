/** IPv4 addresses and CIDR blocks as unsigned 32-bit numbers: parsing, containment, overlap. */

export class AddressError extends Error {
  override name = 'AddressError';
}

export interface Cidr {
  /** The network address (host bits cleared). */
  network: number;
  prefix: number;
}

export function parseIPv4(s: string): number {
  const parts = s.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) throw new AddressError(`invalid IPv4 address: ${s}`);
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

export function isIPv4(s: string): boolean {
  try {
    parseIPv4(s);
    return true;
  } catch {
    return false;
  }
}

export function formatIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** "10.1.2.0/24" → its network and prefix; host bits given are cleared (as Docker canonicalises). */
export function parseCidr(s: string): Cidr {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(s);
  if (!m || Number(m[2]) > 32) throw new AddressError(`invalid CIDR address: ${s}`);
  const prefix = Number(m[2]);
  return { network: (parseIPv4(m[1]!) & mask(prefix)) >>> 0, prefix };
}

export function formatCidr(c: Cidr): string {
  return `${formatIPv4(c.network)}/${c.prefix}`;
}

export function cidrContains(c: Cidr, ip: number): boolean {
  return (ip & mask(c.prefix)) >>> 0 === c.network;
}

/** True when one block contains the other (CIDR blocks either nest or are disjoint). */
export function cidrOverlaps(a: Cidr, b: Cidr): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return (a.network & mask(p)) >>> 0 === (b.network & mask(p)) >>> 0;
}

/** The broadcast (last) address of a block. */
export function lastAddress(c: Cidr): number {
  return (c.network | (~mask(c.prefix) >>> 0)) >>> 0;
}

/** A random locally administered unicast MAC address (02:42:… like Docker's, random low bytes). */
export function randomMac(random: (n: number) => Buffer): string {
  const b = random(4);
  return ['02', '42', ...[...b].map((x) => x.toString(16).padStart(2, '0'))].join(':');
}
