/**
 * The CRI service's own metadata, persisted through the daemon's crash-safe RecordStore under
 * ['cri', 'sandboxes'] and ['cri', 'containers'], so pods and containers outlive a restart.
 */
import * as crypto from 'node:crypto';
import { errdefs, type RecordStore } from '@gantry/linux';

type SandboxStateName = 'ready' | 'notready';
type ContainerStateName = 'created' | 'running' | 'exited' | 'unknown';

export interface SandboxRecord {
  id: string;
  /** runtime.v1.PodSandboxConfig in its proto3 JSON form. */
  config: unknown;
  state: SandboxStateName;
  /** Nanoseconds since the epoch, as a decimal string (int64 on the wire). */
  createdAt: string;
  /** The pinned network namespace file; '' with host networking. */
  netnsPath: string;
  /** The pinned IPC namespace file; '' with host IPC. */
  ipcPath: string;
  /** pid 1 of the pod-shared PID namespace (0: none; see startPidHolder). */
  pidHolder?: number;
  ip: string;
  additionalIps: string[];
  /** The CNI ADD result (for DEL's prevResult) and the list it came from. */
  cni?: { list: unknown; result: unknown };
  cgroupParent: string;
  hostname: string;
  /** Pod files: hosts, resolv.conf, hostname. */
  dir: string;
}

export interface ContainerRecord {
  id: string;
  sandboxId: string;
  /** runtime.v1.ContainerConfig in its proto3 JSON form. */
  config: unknown;
  /** What the image was asked as, and the image's ID (config digest). */
  image: string;
  imageRef: string;
  state: ContainerStateName;
  createdAt: string;
  startedAt: string;
  finishedAt: string;
  exitCode: number;
  reason: string;
  message: string;
  pid: number;
  /** The CRI log file: the pod's log_directory joined with the container's log_path ('' for none). */
  logPath: string;
  /** The OCI spec written at create (ContainerStatus verbose info). */
  spec: unknown;
}

const SANDBOXES = ['cri', 'sandboxes'];
const CONTAINERS = ['cri', 'containers'];

export function newId(): string {
  return crypto.randomBytes(32).toString('hex');
}

export function nowNs(): string {
  const t = process.hrtime.bigint() - HR_START + START_NS;
  return t.toString();
}
const START_NS = BigInt(Date.now()) * 1_000_000n;
const HR_START = process.hrtime.bigint();

export class CriStore {
  private readonly sandboxes = new Map<string, SandboxRecord>();
  private readonly containers = new Map<string, ContainerRecord>();

  constructor(private readonly records: RecordStore) {
    for (const k of records.keys(SANDBOXES)) {
      const r = records.get<SandboxRecord>(SANDBOXES, k);
      if (r) this.sandboxes.set(r.id, r);
    }
    for (const k of records.keys(CONTAINERS)) {
      const r = records.get<ContainerRecord>(CONTAINERS, k);
      if (r) this.containers.set(r.id, r);
    }
  }

  listSandboxes(): SandboxRecord[] {
    return [...this.sandboxes.values()];
  }

  listContainers(): ContainerRecord[] {
    return [...this.containers.values()];
  }

  /** A sandbox by its full id or a unique prefix of it; NOT_FOUND otherwise. */
  sandbox(id: string): SandboxRecord {
    return this.find(this.sandboxes, id, 'sandbox');
  }

  container(id: string): ContainerRecord {
    return this.find(this.containers, id, 'container');
  }

  private find<T>(map: Map<string, T>, id: string, what: string): T {
    if (!id) throw errdefs.invalidArgument(`${what} id is required`);
    const exact = map.get(id);
    if (exact) return exact;
    const hits = [...map.keys()].filter((k) => k.startsWith(id));
    if (hits.length === 1) return map.get(hits[0]!)!;
    if (hits.length > 1) throw errdefs.invalidArgument(`${what} id ${JSON.stringify(id)} is ambiguous`);
    throw errdefs.notFound(`${what} ${JSON.stringify(id)} not found`);
  }

  saveSandbox(r: SandboxRecord): void {
    if (this.sandboxes.has(r.id)) this.records.update(SANDBOXES, r.id, r);
    else this.records.create(SANDBOXES, r.id, r);
    this.sandboxes.set(r.id, r);
  }

  saveContainer(r: ContainerRecord): void {
    if (this.containers.has(r.id)) this.records.update(CONTAINERS, r.id, r);
    else this.records.create(CONTAINERS, r.id, r);
    this.containers.set(r.id, r);
  }

  deleteSandbox(id: string): void {
    if (!this.sandboxes.delete(id)) return;
    this.records.delete(SANDBOXES, id);
  }

  deleteContainer(id: string): void {
    if (!this.containers.delete(id)) return;
    this.records.delete(CONTAINERS, id);
  }
}
