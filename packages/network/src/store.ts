/** Networks as gantryd keeps them: one JSON record per network under <data-root>/network/networks. */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isJsonObject, loadJsonOrQuarantine, type QuarantineReport, removeFileDurable, sweepTempFiles, writeJsonAtomic } from '@gantry/linux';
import { conflicting, missing } from './errors';

export interface IpamPool {
  Subnet: string;
  Gateway: string;
  IPRange?: string;
}

export type NetworkDriver = 'bridge' | 'host' | 'null';

/** The shape of `docker network inspect` (without Containers, which are computed). */
export interface NetworkRecord {
  Name: string;
  Id: string;
  Created: string;
  Scope: 'local';
  Driver: NetworkDriver;
  EnableIPv6: boolean;
  IPAM: { Driver: 'default'; Options: Record<string, string> | null; Config: IpamPool[] };
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigFrom: { Network: string };
  ConfigOnly: boolean;
  Options: Record<string, string>;
  Labels: Record<string, string>;
  /** The Linux bridge of a bridge network (gt-<12 hex> or the default's). */
  Bridge?: string;
}

/**
 * A record with dockerd's defaults for what `fields` leave out: local scope, no IPv6, default
 * IPAM without pools, not internal, attachable or ingress, no options or labels; a new id and
 * the current time unless given.
 */
export function networkRecord(fields: Pick<NetworkRecord, 'Name' | 'Driver'> & Partial<NetworkRecord>): NetworkRecord {
  return {
    Id: NetworkStore.newId(),
    Created: new Date().toISOString(),
    Scope: 'local',
    EnableIPv6: false,
    IPAM: { Driver: 'default', Options: null, Config: [] },
    Internal: false,
    Attachable: false,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Options: {},
    Labels: {},
    ...fields,
  };
}

/** The always-present networks Docker calls predefined: they cannot be removed. */
export const PREDEFINED = new Set(['bridge', 'host', 'none']);

export class NetworkStore {
  private readonly byId = new Map<string, NetworkRecord>();

  /**
   * Records are written through @gantry/linux's writeJsonAtomic; one that cannot be read at
   * start-up is moved to quarantine/ beside it and reported through `onQuarantine`.
   */
  constructor(
    readonly dir: string,
    opts: { onQuarantine?: (r: QuarantineReport) => void } = {},
  ) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    sweepTempFiles(dir);
    for (const f of fs.readdirSync(dir)) {
      if (!f.endsWith('.json')) continue;
      const rec = loadJsonOrQuarantine<NetworkRecord>(path.join(dir, f), {
        validate: (v) =>
          isJsonObject(v) && typeof v.Id === 'string' && `${v.Id}.json` === f && typeof v.Name === 'string' ? undefined : 'not a network record of this file',
        onQuarantine: (r) => opts.onQuarantine?.(r),
      });
      if (rec) this.byId.set(rec.Id, rec);
    }
  }

  static newId(): string {
    return randomBytes(32).toString('hex');
  }

  all(): NetworkRecord[] {
    return [...this.byId.values()];
  }

  /** By full id, exact name, or unique id prefix (Docker's order). */
  find(ref: string): NetworkRecord | undefined {
    if (!ref) return undefined;
    const exact = this.byId.get(ref);
    if (exact) return exact;
    const named = this.all().find((n) => n.Name === ref);
    if (named) return named;
    const prefixed = this.all().filter((n) => n.Id.startsWith(ref));
    if (prefixed.length > 1) throw conflicting(`network ${ref} is ambiguous (${prefixed.length} matches found based on ID prefix)`);
    return prefixed[0];
  }

  get(ref: string): NetworkRecord {
    const n = this.find(ref);
    if (!n) throw missing(`network ${ref} not found`);
    return n;
  }

  save(rec: NetworkRecord): void {
    writeJsonAtomic(path.join(this.dir, `${rec.Id}.json`), rec);
    this.byId.set(rec.Id, rec);
  }

  remove(id: string): void {
    removeFileDurable(path.join(this.dir, `${id}.json`));
    this.byId.delete(id);
  }
}
