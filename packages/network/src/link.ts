/** Host links through iproute2: the network's bridge, made with its gateway address before any container joins. */
import { run } from './run';

interface IpAddrJson {
  ifname: string;
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

export async function linkExists(name: string): Promise<boolean> {
  return run(['ip', 'link', 'show', 'dev', name]).then(
    () => true,
    () => false,
  );
}

/** The IPv4 addresses (CIDR) on a link, [] when it has none or does not exist. */
export async function linkAddresses(name: string): Promise<string[]> {
  try {
    const list = JSON.parse(await run(['ip', '-j', '-4', 'addr', 'show', 'dev', name])) as IpAddrJson[];
    return list.flatMap((l) => (l.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`));
  } catch {
    return [];
  }
}

/** Create (or adopt) a bridge with `gatewayCidr` on it, up. */
export async function ensureBridge(name: string, gatewayCidr: string): Promise<void> {
  if (!(await linkExists(name))) {
    await run(['ip', 'link', 'add', 'name', name, 'type', 'bridge']).catch(async (e: unknown) => {
      if (!(await linkExists(name))) throw e; // another daemon made it meanwhile
    });
  }
  if (!(await linkAddresses(name)).includes(gatewayCidr)) {
    await run(['ip', 'addr', 'add', gatewayCidr, 'dev', name]).catch(async (e: unknown) => {
      if (!(await linkAddresses(name)).includes(gatewayCidr)) throw e;
    });
  }
  await run(['ip', 'link', 'set', 'dev', name, 'up']);
}

export async function deleteLink(name: string): Promise<void> {
  if (await linkExists(name)) await run(['ip', 'link', 'del', 'dev', name]).catch(() => undefined);
}

/** IPv4 destinations of the host's routes (CIDR), to keep a default subnet clear of them. */
export async function hostRoutes(): Promise<string[]> {
  try {
    const list = JSON.parse(await run(['ip', '-j', '-4', 'route', 'show', 'table', 'all'])) as { dst: string; type?: string }[];
    return list.filter((r) => r.dst && r.dst !== 'default' && (!r.type || r.type === 'unicast')).map((r) => (r.dst.includes('/') ? r.dst : `${r.dst}/32`));
  } catch {
    return [];
  }
}
