/**
 * Forwarding rules for gantry bridges in the filter table, in chains of our own (the CNI firewall
 * plugin accepts all of a container's egress, which would defeat isolation):
 *
 *   FORWARD → GANTRY-FORWARD (first rule)
 *   GANTRY-FORWARD:       -j GANTRY-ISOLATION-1            (isolation first)
 *                         internal:  -i br ! -o br -j DROP; -o br ! -i br -j DROP
 *                         -o br -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -j ACCEPT
 *                         -i br -j ACCEPT
 *   GANTRY-ISOLATION-1:   -i br ! -o br -j GANTRY-ISOLATION-2   (one per bridge)
 *   GANTRY-ISOLATION-2:   -o br -j DROP                          (one per bridge)
 *
 * So a container reaches its own bridge, the host and (unless internal) the outside, replies come
 * back, published ports (DNATed) come in, and traffic between two gantry bridges is dropped — also
 * on hosts whose FORWARD policy is DROP. The chains are shared by every gantryd on the host and
 * never deleted; rules name their bridge and are removed with it.
 */
import { run, CommandError } from './run';

export const FORWARD_CHAIN = 'GANTRY-FORWARD';
export const ISOLATION_1 = 'GANTRY-ISOLATION-1';
export const ISOLATION_2 = 'GANTRY-ISOLATION-2';

export interface BridgeRules {
  bridge: string;
  internal: boolean;
}

/** The rules of one bridge, as [chain, ...match/target] argument lists. */
export function bridgeRules(b: BridgeRules): string[][] {
  const br = b.bridge;
  const rules: string[][] = [
    [ISOLATION_1, '-i', br, '!', '-o', br, '-j', ISOLATION_2],
    [ISOLATION_2, '-o', br, '-j', 'DROP'],
  ];
  if (b.internal) {
    rules.push([FORWARD_CHAIN, '-i', br, '!', '-o', br, '-j', 'DROP'], [FORWARD_CHAIN, '-o', br, '!', '-i', br, '-j', 'DROP']);
  }
  rules.push([FORWARD_CHAIN, '-o', br, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED,DNAT', '-j', 'ACCEPT'], [FORWARD_CHAIN, '-i', br, '-j', 'ACCEPT']);
  return rules;
}

const ipt = (args: string[]) => run(['iptables', '-w', '5', ...args]);

async function has(table: string, rule: string[]): Promise<boolean> {
  return ipt(['-t', table, '-C', ...rule]).then(
    () => true,
    () => false,
  );
}

async function ensureChain(table: string, chain: string): Promise<void> {
  await ipt(['-t', table, '-N', chain]).catch((e: unknown) => {
    if (!(e instanceof CommandError) || !/exists/i.test(e.stderr)) throw e;
  });
}

/** The chains and the jumps into them (idempotent; safe beside other gantryds). */
export async function ensureChains(): Promise<void> {
  for (const c of [FORWARD_CHAIN, ISOLATION_1, ISOLATION_2]) await ensureChain('filter', c);
  if (!(await has('filter', ['FORWARD', '-j', FORWARD_CHAIN]))) await ipt(['-I', 'FORWARD', '1', '-j', FORWARD_CHAIN]);
  if (!(await has('filter', [FORWARD_CHAIN, '-j', ISOLATION_1]))) await ipt(['-I', FORWARD_CHAIN, '1', '-j', ISOLATION_1]);
  if (!(await has('filter', [ISOLATION_1, '-j', 'RETURN']))) await ipt(['-A', ISOLATION_1, '-j', 'RETURN']);
  if (!(await has('filter', [ISOLATION_2, '-j', 'RETURN']))) await ipt(['-A', ISOLATION_2, '-j', 'RETURN']);
}

/** Add a bridge's rules (before the chains' final RETURN). */
export async function addBridgeRules(b: BridgeRules): Promise<void> {
  await ensureChains();
  // inserted at fixed positions, so in reverse to end up in bridgeRules' order
  for (const rule of bridgeRules(b).reverse()) {
    if (await has('filter', rule)) continue;
    const [chain, ...spec] = rule;
    // the isolation chains end with RETURN: insert at the top; GANTRY-FORWARD: after the isolation jump
    await ipt(['-I', chain!, chain === FORWARD_CHAIN ? '2' : '1', ...spec]);
  }
}

export async function removeBridgeRules(b: BridgeRules): Promise<void> {
  for (const rule of bridgeRules(b)) {
    while (await has('filter', rule)) await ipt(['-D', ...rule]).catch(() => undefined);
  }
}
