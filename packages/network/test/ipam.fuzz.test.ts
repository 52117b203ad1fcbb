/**
 * Property-based fuzzing of the IPAM and CNI configuration code: address and CIDR parsing, pool
 * requests (`docker network create --subnet/--gateway/--ip-range`), static addresses, the bridge
 * conflist made from an accepted pool, and the parsing of a plugin's output. Any input gives a
 * result or a typed error (AddressError, NetworkError 4xx, CniError); an accepted pool always
 * gives host-local a usable, non-empty range inside the subnet.
 * Corpus: test/fuzz-corpus/ipam/*.bin (pool requests as JSON), replayed by resolvePool.
 */
import * as path from 'node:path';
import * as fc from 'fast-check';
import { corpusFiles, fuzz, fuzzAsync, fuzzTimeout } from '../../../tools/fuzz/support';
import { CniError, CniInvoker, type CniConfList } from '../src/cni';
import { bridgeConflist } from '../src/conflist';
import { NetworkError } from '../src/errors';
import { AddressError, formatIPv4, lastAddress, parseCidr, parseIPv4 } from '../src/ip';
import { checkStaticAddress, hostLocalRange, resolvePool, type PoolRequest } from '../src/ipam';
import { networkRecord, type IpamPool, type NetworkRecord } from '../src/store';

const CORPUS = path.join(__dirname, 'fuzz-corpus', 'ipam');

function typed<T>(f: () => T, ...kinds: (new (...a: never[]) => Error)[]): T | undefined {
  try {
    return f();
  } catch (e) {
    if (kinds.some((k) => e instanceof k)) {
      if (e instanceof NetworkError) expect(['invalid-argument', 'permission-denied', 'not-found', 'conflict']).toContain(e.kind);
      return undefined;
    }
    throw e;
  }
}

const octet = fc.integer({ min: 0, max: 255 });
const ip = fc.tuple(octet, octet, octet, octet).map((o) => o.join('.'));
const cidr = fc.tuple(ip, fc.integer({ min: 0, max: 32 })).map(([a, p]) => `${a}/${p}`);
/** Mostly well-formed, sometimes garbage: what a client can send. */
const addressText = fc.oneof(
  { weight: 3, arbitrary: ip },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
  { weight: 1, arbitrary: fc.stringMatching(/^[0-9./]{0,20}$/) },
);
const cidrText = fc.oneof(
  { weight: 3, arbitrary: cidr },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
  { weight: 1, arbitrary: fc.stringMatching(/^[0-9./]{0,20}$/) },
);
/** Subnets near each other, so gateways and ranges often fall inside. */
const nearPool: fc.Arbitrary<PoolRequest> = fc
  .tuple(fc.integer({ min: 16, max: 32 }), fc.nat(255), fc.nat(255), fc.integer({ min: 16, max: 32 }), fc.boolean(), fc.boolean())
  .map(([p, g, r, rp, withGw, withRange]) => ({
    Subnet: `10.1.0.0/${p}`,
    ...(withGw ? { Gateway: `10.1.0.${g}` } : {}),
    ...(withRange ? { IPRange: `10.1.0.${r}/${rp}` } : {}),
  }));
const anyPool: fc.Arbitrary<PoolRequest> = fc.oneof(nearPool, fc.record({ Subnet: cidrText, Gateway: addressText, IPRange: cidrText }, { requiredKeys: [] }));

function network(pools: IpamPool[]): NetworkRecord {
  return networkRecord({
    Name: 'fuzz',
    Id: 'f'.repeat(64),
    Driver: 'bridge',
    IPAM: { Driver: 'default', Options: null, Config: pools },
    Bridge: 'gt-ffffffffffff',
  });
}

/** resolvePool's answer is a pool host-local can use, or a 4xx NetworkError. */
function checkPool(req: PoolRequest, taken: string[] = []): void {
  const pool = typed(() => resolvePool(req, taken), NetworkError);
  if (!pool) return;
  const subnet = parseCidr(pool.Subnet);
  const gw = parseIPv4(pool.Gateway);
  expect(pool.Subnet).toBe(`${formatIPv4(subnet.network)}/${subnet.prefix}`);
  expect(gw > subnet.network && gw < lastAddress(subnet)).toBe(true);
  const r = hostLocalRange(pool);
  if (r.rangeStart !== undefined) {
    const first = parseIPv4(r.rangeStart);
    const last = parseIPv4(r.rangeEnd!);
    // host-local refuses an empty or inverted range at the first container start
    expect({ req, first: r.rangeStart, last: r.rangeEnd, ok: first <= last && first > subnet.network && last < lastAddress(subnet) }).toMatchObject({
      ok: true,
    });
  }
  const list = bridgeConflist(network([pool]), { ipamDir: '/x' });
  expect(JSON.parse(JSON.stringify(list))).toEqual(list);
}

describe('IPAM and CNI configuration fuzzing', () => {
  it(
    'addresses and CIDRs parse, canonically, or are AddressErrors',
    () => {
      fuzz(
        addressText,
        (s) => {
          const n = typed(() => parseIPv4(s), AddressError);
          if (n !== undefined) expect(parseIPv4(formatIPv4(n))).toBe(n);
        },
        { numRuns: 1000 },
      );
      fuzz(
        cidrText,
        (s) => {
          const c = typed(() => parseCidr(s), AddressError);
          if (c) expect(parseCidr(`${formatIPv4(c.network)}/${c.prefix}`)).toEqual(c);
        },
        { numRuns: 1000 },
      );
      fuzz(fc.integer({ min: 0, max: 0xffffffff }), (n) => expect(parseIPv4(formatIPv4(n))).toBe(n), { numRuns: 500 });
    },
    fuzzTimeout,
  );

  it(
    'a pool request gives a usable pool (non-empty host-local range) or a 4xx',
    () => {
      fuzz(fc.tuple(anyPool, fc.array(cidr, { maxLength: 3 })), ([req, taken]) => checkPool(req, taken), {
        numRuns: 1000,
        corpus: { dir: CORPUS, bytes: ([req]) => Buffer.from(JSON.stringify(req)) },
      });
    },
    fuzzTimeout,
  );

  it(
    'a static address fits a pool or is a 4xx',
    () => {
      fuzz(
        fc.tuple(addressText, nearPool),
        ([addr, req]) => {
          const pool = typed(() => resolvePool(req, []), NetworkError);
          if (pool) typed(() => checkStaticAddress(addr, [pool]), NetworkError);
        },
        { numRuns: 1000 },
      );
    },
    fuzzTimeout,
  );

  it(
    "a plugin's output, whatever it is, is a result or a CniError",
    async () => {
      const list: CniConfList = { cniVersion: '1.0.0', name: 'fuzz', plugins: [{ type: 'bridge' }] };
      const output = fc.record({
        code: fc.integer({ min: 0, max: 2 }),
        stdout: fc.oneof(fc.string({ maxLength: 80 }), fc.json({ maxDepth: 3 })),
        stderr: fc.string({ maxLength: 20 }),
      });
      await fuzzAsync(
        output,
        async (out) => {
          const cni = new CniInvoker(['/'], async () => out);
          (cni as unknown as { findPlugin: (t: string) => string }).findPlugin = () => '/bin/true';
          try {
            await cni.add(list, { containerId: 'c', netns: '/proc/self/ns/net', ifName: 'eth0' });
          } catch (e) {
            if (!(e instanceof CniError)) throw e;
          }
        },
        { numRuns: 300 },
      );
    },
    fuzzTimeout,
  );
});

describe('CNI plugin output found by fuzzing', () => {
  const list: CniConfList = { cniVersion: '1.0.0', name: 'fuzz', plugins: [{ type: 'bridge' }] };
  for (const out of [
    { code: 1, stdout: 'null', stderr: '' },
    { code: 1, stdout: '[1]', stderr: 'boom' },
    { code: 0, stdout: 'null', stderr: '' },
    { code: 0, stdout: '5', stderr: '' },
  ]) {
    it(`exit ${out.code} with ${out.stdout} on stdout is a CniError`, async () => {
      const cni = new CniInvoker(['/'], async () => out);
      (cni as unknown as { findPlugin: (t: string) => string }).findPlugin = () => '/bin/true';
      await expect(cni.add(list, { containerId: 'c', netns: '/proc/self/ns/net', ifName: 'eth0' })).rejects.toThrow(CniError);
    });
  }
});

describe('IPAM fuzz corpus replay', () => {
  const files = corpusFiles(CORPUS);
  it('has entries', () => expect(files.length).toBeGreaterThan(0));
  for (const f of files) it(`${f.name}: a usable pool or a 4xx`, () => checkPool(JSON.parse(f.bytes.toString('utf8')) as PoolRequest));
});
