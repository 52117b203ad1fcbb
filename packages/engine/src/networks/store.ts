/**
 * The network records: the predefined `host` and `none`, the default `bridge` and user-defined
 * bridges (persisted by @gantry/network's NetworkStore), how a new one is validated and laid out
 * as Docker does, and where each keeps its address leases.
 */
import * as path from 'node:path';
import { errdefs } from '@gantry/linux';
import { hostRoutes, networkRecord, type NetworkRecord, type NetworkStore, pickUserSubnet, type PoolRequest, PREDEFINED, resolvePool } from '@gantry/network';
import { kindError } from './errors';

export interface CreateNetworkRequest {
  Name?: string;
  Driver?: string;
  Internal?: boolean;
  Attachable?: boolean;
  EnableIPv6?: boolean;
  CheckDuplicate?: boolean;
  IPAM?: { Driver?: string; Config?: PoolRequest[] | null; Options?: Record<string, string> | null } | null;
  Options?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** The `host` and `none` networks, made once. */
export function ensurePredefined(store: NetworkStore): void {
  for (const [name, driver] of [
    ['host', 'host'],
    ['none', 'null'],
  ] as const) {
    if (!store.find(name)) store.save(networkRecord({ Name: name, Driver: driver }));
  }
}

/** A network by name, id or id prefix; not found (or ambiguous) as its kind. */
export function getNetwork(store: NetworkStore, ref: string): NetworkRecord {
  try {
    return store.get(ref);
  } catch (e) {
    throw kindError(e);
  }
}

/** Where a network's IPAM leases live. */
export function ipamDir(dataRoot: string, net: NetworkRecord): string {
  // the default bridge may be shared by several gantryds on a host: its leases must be too
  return net.Name === 'bridge' ? path.join('/run/gantry-cni', net.Bridge!) : path.join(dataRoot, 'network', 'ipam', net.Id);
}

/** The record of a new user-defined bridge, validated as dockerd does (nothing is saved or wired). */
export async function newUserNetwork(store: NetworkStore, req: CreateNetworkRequest): Promise<NetworkRecord> {
  const name = req.Name ?? '';
  if (!name) throw errdefs.invalidArgument('network name is required');
  if (!NAME_RE.test(name)) throw errdefs.invalidArgument(`invalid network name "${name}": must match ${NAME_RE.source}`);
  const driver = req.Driver || 'bridge';
  if (PREDEFINED.has(name)) throw errdefs.permissionDenied(`operation is not permitted on predefined ${name} network`);
  if (store.all().some((n) => n.Name === name)) throw errdefs.conflict(`network with name ${name} already exists`);
  if (driver !== 'bridge')
    throw driver === 'host' || driver === 'null'
      ? errdefs.permissionDenied(`only one instance of "${driver}" network is allowed`)
      : errdefs.notFound(`plugin "${driver}" not found`);
  if (req.IPAM?.Driver && req.IPAM.Driver !== 'default') throw errdefs.notFound(`plugin "${req.IPAM.Driver}" not found`);
  if (req.EnableIPv6) throw errdefs.invalidArgument('IPv6 networks are not supported by gantryd');
  const pools = req.IPAM?.Config ?? [];
  if (pools.length > 1) throw errdefs.invalidArgument('gantryd supports one IPv4 pool per network');
  try {
    const taken = store.all().flatMap((n) => n.IPAM.Config.map((p) => p.Subnet));
    const wanted = pools[0] ?? {};
    const pool = resolvePool({ ...wanted, Subnet: wanted.Subnet || pickUserSubnet(await hostRoutes(), taken) }, taken);
    const net: NetworkRecord = {
      ...networkRecord({ Name: name, Driver: 'bridge' }),
      IPAM: { Driver: 'default', Options: req.IPAM?.Options ?? {}, Config: [pool] },
      Internal: req.Internal ?? false,
      Attachable: req.Attachable ?? false,
      Options: req.Options ?? {},
      Labels: req.Labels ?? {},
    };
    net.Bridge = net.Options['com.docker.network.bridge.name'] || `gt-${net.Id.slice(0, 12)}`;
    if (net.Bridge.length > 15) throw errdefs.invalidArgument(`bridge name ${net.Bridge} is longer than 15 characters`);
    return net;
  } catch (e) {
    throw kindError(e);
  }
}
