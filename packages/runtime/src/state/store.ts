import * as fs from 'node:fs';
import * as path from 'node:path';
import { readJsonFile, requireStringFields, writeJsonAtomic } from '@gantry/linux';
import { ContainerIdError, StateError } from '../errors';
import type { ContainerState, Spec } from '../spec/types';

export const DEFAULT_ROOT = '/run/gantry-runtime';
const STATE_FILE = 'state.json';
export const EXEC_FIFO = 'exec.fifo';
/**
 * What the init stage writes to exec.fifo once `start` opens it: EXEC_FIFO_GO when it goes on to
 * execve, or EXEC_FIFO_FAILED and why it cannot (after `create` returned, nothing else carries the
 * stage's error back). One write of at most PIPE_BUF bytes, so one read gets all of it.
 */
export const EXEC_FIFO_GO = '0';
export const EXEC_FIFO_FAILED = 'E';
export const PIPE_BUF = 4096;

export function execFifoFailure(message: string): Buffer {
  return Buffer.from(EXEC_FIFO_FAILED + message).subarray(0, PIPE_BUF);
}

/** What the runtime remembers about a container between CLI invocations (internal, not the OCI state). */
export interface StoredContainer {
  id: string;
  bundle: string;
  rootfs: string;
  created: string;
  owner: string;
  /** pid of the container's init process (host pid namespace); 0 before it exists. */
  pid: number;
  /** Start time of `pid` (field 22 of /proc/<pid>/stat), so a recycled pid is never mistaken for ours. */
  pidStartTime: string;
  /** The last status the runtime itself recorded; `status()` refines it from the kernel. */
  recorded: 'creating' | 'created' | 'running' | 'stopped';
  cgroupPath: string;
  spec: Spec;
  annotations?: Record<string, string>;
}

const ID_PATTERN = /^[\w+\-.]+$/;

export function validateId(id: string): void {
  if (!id) throw new ContainerIdError('container id cannot be empty');
  if (id === '.' || id === '..' || !ID_PATTERN.test(id) || id.length > 1024) {
    throw new ContainerIdError(`invalid container id ${JSON.stringify(id)}: use letters, digits, "_", "+", "-" and "."`);
  }
}

/** The state directory `<root>/<id>` and its files. */
export class StateStore {
  constructor(readonly root: string = DEFAULT_ROOT) {}

  dir(id: string): string {
    validateId(id);
    return path.join(this.root, id);
  }

  exists(id: string): boolean {
    return fs.existsSync(path.join(this.dir(id), STATE_FILE));
  }

  /** Claim `<root>/<id>` atomically; a second create with the same id fails here. */
  claim(id: string): string {
    const dir = this.dir(id);
    fs.mkdirSync(this.root, { recursive: true, mode: 0o711 });
    try {
      fs.mkdirSync(dir, { mode: 0o711 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new ContainerIdError(`container with id ${id} already exists`, 'already-exists');
      throw e;
    }
    return dir;
  }

  load(id: string): StoredContainer {
    const file = path.join(this.dir(id), STATE_FILE);
    const r = readJsonFile<StoredContainer>(file, requireStringFields('id', 'bundle'));
    if (r.kind === 'missing') throw new ContainerIdError(`container ${id} does not exist`, 'not-found');
    // written atomically, so this is damage from outside, not a torn write: say so, keep the file
    if (r.kind === 'corrupt') throw new StateError(`container ${id}: ${file} cannot be used: ${r.reason}`);
    return r.value;
  }

  /**
   * Write state.json atomically (temp file and rename: a reader or a kill -9 never sees half of
   * it). Not fsynced: it describes processes, which a power loss ends, and lives in /run (a
   * tmpfs) in a normal set-up; runc writes it the same way. The fsyncs cost 10-30 ms of every
   * run on a disk-backed root (npm run bench).
   */
  save(c: StoredContainer): void {
    writeJsonAtomic(path.join(this.dir(c.id), STATE_FILE), c, { durability: 'process-crash' });
  }

  remove(id: string): void {
    fs.rmSync(this.dir(id), { recursive: true, force: true });
  }

  list(): string[] {
    try {
      return fs
        .readdirSync(this.root, { withFileTypes: true })
        .filter((e) => e.isDirectory() && fs.existsSync(path.join(this.root, e.name, STATE_FILE)))
        .map((e) => e.name)
        .sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  }
}

/** Start time of a process from /proc/<pid>/stat, or undefined when it does not exist. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const afterComm = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // afterComm[0] is field 3 (state); start time is field 22
    return afterComm[19];
  } catch {
    return undefined;
  }
}

/** Process state letter from /proc/<pid>/stat (R, S, D, Z, T, ...), undefined when gone. */
export function processStateLetter(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}

export function toOciState(c: StoredContainer, status: ContainerState['status']): ContainerState {
  const state: ContainerState = {
    ociVersion: c.spec.ociVersion,
    id: c.id,
    pid: status === 'stopped' ? 0 : c.pid,
    status,
    bundle: c.bundle,
    rootfs: c.rootfs,
    created: c.created,
    owner: c.owner,
  };
  if (c.annotations && Object.keys(c.annotations).length > 0) state.annotations = c.annotations;
  return state;
}
