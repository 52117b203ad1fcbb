/**
 * iptables rules for gantry bridges, in chains of our own (the CNI firewall plugin accepts all of a
 * container's egress, which would defeat isolation). Docker's layout, in gantry's names:
 *
 *   filter FORWARD → GANTRY-USER (first; empty, the administrator's), then GANTRY-FORWARD
 *   GANTRY-FORWARD:       -j GANTRY-ISOLATION-1            (isolation first)
 *                         internal:  -i br ! -o br -j DROP; -o br ! -i br -j DROP
 *                         -o br -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -j ACCEPT
 *                         -i br -j ACCEPT
 *                         -o br ! -i br -j DROP            (not internal: the rest from outside)
 *   GANTRY-ISOLATION-1:   -i br ! -o br -j GANTRY-ISOLATION-2   (one per bridge)
 *   GANTRY-ISOLATION-2:   -o br -j DROP                          (one per bridge)
 *   filter INPUT → GANTRY-INPUT (first)
 *   GANTRY-INPUT:         ! -i br -d <gateway> -p udp|tcp --dport <dns> -j DROP   (the resolver is the bridge's)
 *                         internal:  -i br ! -d <subnet> -j DROP  (no host address outside the subnet)
 *   raw PREROUTING → GANTRY-PREROUTING (first)
 *   GANTRY-PREROUTING:    ! -i lo -d 127.0.0.0/8 -j DROP   (host-wide, never removed)
 *
 * So a container reaches its own bridge, the host and (unless internal) the outside; replies come
 * back; from outside the host only published ports (DNATed by portmap) come in — a neighbour that
 * routes the subnet through the host reaches no other port; traffic between two gantry bridges is
 * dropped; all of it also on hosts whose FORWARD policy is DROP.
 *
 * The raw rule: portmap's `snat` sets route_localnet=1 on the bridge (so the host's 127.0.0.1
 * reaches published ports), which stops the kernel treating 127/8 from the bridge as martian: a
 * container with CAP_NET_RAW could then reach services the host binds to 127.0.0.1, and a neighbour
 * could reach ports published on 127.0.0.1 (portmap DNATs before routing). Nothing legitimate
 * arrives for 127/8 on another interface than lo, so it is dropped before conntrack and NAT
 * (moby drops the same per loopback-published port; CVE-2020-8558 is the class).
 *
 * The chains are shared by every gantryd on the host and never deleted; rules that name a bridge
 * are removed with it.
 */
import { run } from './run';

export const USER_CHAIN = 'GANTRY-USER';
export const FORWARD_CHAIN = 'GANTRY-FORWARD';
export const ISOLATION_1 = 'GANTRY-ISOLATION-1';
export const ISOLATION_2 = 'GANTRY-ISOLATION-2';
export const INPUT_CHAIN = 'GANTRY-INPUT';
export const RAW_PREROUTING = 'GANTRY-PREROUTING';

export type Table = 'filter' | 'raw';

export interface Rule {
  table: Table;
  chain: string;
  spec: string[];
}

export interface BridgeRules {
  bridge: string;
  internal: boolean;
  /** The network's subnet (CIDR); needed for an internal network's INPUT rule. */
  subnet?: string;
  /** The embedded resolver's address and port, answered only on the bridge. */
  dns?: { address: string; port: number };
}

/** The rules of one bridge, in the order they stand in each chain. */
export function bridgeRules(b: BridgeRules): Rule[] {
  const br = b.bridge;
  const f = (chain: string, ...spec: string[]): Rule => ({ table: 'filter', chain, spec });
  const rules: Rule[] = [f(ISOLATION_1, '-i', br, '!', '-o', br, '-j', ISOLATION_2), f(ISOLATION_2, '-o', br, '-j', 'DROP')];
  if (b.internal) rules.push(f(FORWARD_CHAIN, '-i', br, '!', '-o', br, '-j', 'DROP'), f(FORWARD_CHAIN, '-o', br, '!', '-i', br, '-j', 'DROP'));
  rules.push(
    f(FORWARD_CHAIN, '-o', br, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED,DNAT', '-j', 'ACCEPT'),
    f(FORWARD_CHAIN, '-i', br, '-j', 'ACCEPT'),
  );
  // routed in from anywhere but the bridge, not a reply and not a published port: unpublished ports stay private
  if (!b.internal) rules.push(f(FORWARD_CHAIN, '-o', br, '!', '-i', br, '-j', 'DROP'));
  if (b.dns) {
    for (const proto of ['udp', 'tcp'])
      rules.push(f(INPUT_CHAIN, '!', '-i', br, '-d', `${b.dns.address}/32`, '-p', proto, '-m', proto, '--dport', String(b.dns.port), '-j', 'DROP'));
  }
  if (b.internal && b.subnet) rules.push(f(INPUT_CHAIN, '-i', br, '!', '-d', b.subnet, '-j', 'DROP'));
  return rules;
}

/** Host-wide rules in our chains (added once, kept). */
export const HOST_RULES: Rule[] = [{ table: 'raw', chain: RAW_PREROUTING, spec: ['!', '-i', 'lo', '-d', '127.0.0.0/8', '-j', 'DROP'] }];

/** Where a bridge's rule is inserted: after GANTRY-FORWARD's isolation jump, else at the top (before a final RETURN). */
const insertAt = (r: Rule) => (r.chain === FORWARD_CHAIN ? '2' : '1');

const ipt = (args: string[]) => run(['iptables', '-w', '5', ...args]);

async function has(r: Rule): Promise<boolean> {
  return ipt(['-t', r.table, '-C', r.chain, ...r.spec]).then(
    () => true,
    () => false,
  );
}

const chainExists = (table: Table, chain: string): Promise<boolean> =>
  ipt(['-t', table, '-S', chain]).then(
    () => true,
    () => false,
  );

async function ensureChain(table: Table, chain: string): Promise<void> {
  // iptables says "already exists" only in words (exit status 1, as for any failure): ask instead
  await ipt(['-t', table, '-N', chain]).catch(async (e: unknown) => {
    if (!(await chainExists(table, chain))) throw e;
  });
}

async function ensureJump(table: Table, from: string, to: string): Promise<void> {
  if (!(await has({ table, chain: from, spec: ['-j', to] }))) await ipt(['-t', table, '-I', from, '1', '-j', to]);
}

/** The chains, the jumps into them and the host-wide rules (idempotent; safe beside other gantryds). */
export async function ensureChains(): Promise<void> {
  for (const c of [USER_CHAIN, FORWARD_CHAIN, ISOLATION_1, ISOLATION_2, INPUT_CHAIN]) await ensureChain('filter', c);
  await ensureChain('raw', RAW_PREROUTING);
  // FORWARD: GANTRY-USER first, then GANTRY-FORWARD (each inserted at the top, so in reverse)
  await ensureJump('filter', 'FORWARD', FORWARD_CHAIN);
  await ensureJump('filter', 'FORWARD', USER_CHAIN);
  await ensureJump('filter', FORWARD_CHAIN, ISOLATION_1);
  await ensureJump('filter', 'INPUT', INPUT_CHAIN);
  await ensureJump('raw', 'PREROUTING', RAW_PREROUTING);
  for (const c of [ISOLATION_1, ISOLATION_2]) {
    if (!(await has({ table: 'filter', chain: c, spec: ['-j', 'RETURN'] }))) await ipt(['-A', c, '-j', 'RETURN']);
  }
  for (const r of HOST_RULES) if (!(await has(r))) await ipt(['-t', r.table, '-I', r.chain, '1', ...r.spec]);
}

/** Add a bridge's rules (before the chains' final RETURN), replacing any it had (an older set may stand in another order). */
export async function addBridgeRules(b: BridgeRules): Promise<void> {
  await ensureChains();
  await removeBridgeRules(b);
  // inserted at fixed positions, so in reverse to end up in bridgeRules' order
  for (const r of bridgeRules(b).reverse()) {
    await ipt(['-t', r.table, '-I', r.chain, insertAt(r), ...r.spec]);
  }
}

export async function removeBridgeRules(b: BridgeRules): Promise<void> {
  for (const r of bridgeRules(b)) {
    while (await has(r)) {
      const gone = await ipt(['-t', r.table, '-D', r.chain, ...r.spec]).then(
        () => true,
        () => false,
      );
      if (!gone) break;
    }
  }
}
