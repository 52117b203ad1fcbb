import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errdefs, isJsonObject, loadJsonOrQuarantine, QUARANTINE_DIR, removeTreeDurable, sweepTempFiles, writeJsonAtomic } from '@gantry/linux';
import type { ContainerRecord } from './record';
import { generateName } from './names';

const NAME_RE = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

const RECORD = 'config.v2.json';

/** Where start-up problems are reported (gantryd's structured log). */
export interface StoreLog {
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** Why a parsed config.v2.json is not a container record of directory `id` (undefined: it is). */
function recordProblem(id: string, v: unknown): string | undefined {
  if (!isJsonObject(v)) return 'not a JSON object';
  if (v.Id !== id) return `Id ${JSON.stringify(v.Id)} does not match its directory`;
  if (typeof v.Name !== 'string' || !v.Name.startsWith('/')) return 'Name is missing';
  if (!isJsonObject(v.State) || typeof v.State.Status !== 'string') return 'State is missing';
  if (!isJsonObject(v.Config) || !isJsonObject(v.HostConfig)) return 'Config or HostConfig is missing';
  return undefined;
}

/**
 * Containers on disk: <data-root>/containers/<id>/config.v2.json (written through @gantry/linux's
 * writeJsonAtomic, so a crash never leaves half a record) plus the json-file log beside it.
 * Lookups by full id, unique id prefix or name, as Docker resolves them.
 *
 * At start-up a record that cannot be read is moved to <id>/quarantine/config.v2.json.<time> and
 * reported; the directory (log, etc files) stays and the other containers are served. A directory
 * with neither record nor quarantine is what a create cut short leaves, and is removed.
 */
export class ContainerStore {
  private readonly byId = new Map<string, ContainerRecord>();
  readonly dir: string;

  constructor(dataRoot: string, log?: StoreLog) {
    this.dir = path.join(dataRoot, 'containers');
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o710 });
    for (const id of fs.readdirSync(this.dir)) {
      const cdir = path.join(this.dir, id);
      if (!fs.lstatSync(cdir).isDirectory()) continue;
      sweepTempFiles(cdir);
      let quarantinedNow = false;
      const rec = loadJsonOrQuarantine<ContainerRecord>(path.join(cdir, RECORD), {
        validate: (v) => recordProblem(id, v),
        onQuarantine: (r) => {
          quarantinedNow = true;
          log?.error('container record quarantined: it cannot be read; the container is not served, its files are kept', { id, ...r });
        },
      });
      if (rec) {
        this.byId.set(rec.Id, rec);
      } else if (quarantinedNow) {
        // reported above
      } else if (fs.existsSync(path.join(cdir, QUARANTINE_DIR))) {
        log?.warn('container directory without a usable record left in place (see its quarantine/)', { id, dir: cdir });
      } else {
        // no record and nothing quarantined: the create that made it did not finish
        removeTreeDurable(cdir);
      }
    }
  }

  containerDir(id: string): string {
    return path.join(this.dir, id);
  }

  newId(): string {
    for (;;) {
      const id = randomBytes(32).toString('hex');
      if (!this.byId.has(id) && !/^\d+$/.test(id.slice(0, 12))) return id;
    }
  }

  /** A free name: the requested one (409 if taken) or a generated one. */
  claimName(requested: string | undefined): string {
    if (requested) {
      if (!NAME_RE.test(requested)) throw errdefs.invalidArgument(`Invalid container name (${requested}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
      const name = requested.startsWith('/') ? requested : `/${requested}`;
      const owner = this.all().find((c) => c.Name === name);
      if (owner)
        throw errdefs.conflict(
          `Conflict. The container name "${name}" is already in use by container "${owner.Id}". You have to remove (or rename) that container to be able to reuse that name.`,
        );
      return name;
    }
    for (;;) {
      const name = `/${generateName()}`;
      if (!this.all().some((c) => c.Name === name)) return name;
    }
  }

  save(rec: ContainerRecord): void {
    const dir = this.containerDir(rec.Id);
    fs.mkdirSync(dir, { recursive: true, mode: 0o710 });
    writeJsonAtomic(path.join(dir, RECORD), rec);
    this.byId.set(rec.Id, rec);
  }

  remove(id: string): void {
    this.byId.delete(id);
    removeTreeDurable(this.containerDir(id));
  }

  all(): ContainerRecord[] {
    return [...this.byId.values()];
  }

  /** By full id, name (with or without "/"), or unique id prefix; 404 otherwise. */
  get(ref: string): ContainerRecord {
    const found = this.find(ref);
    if (!found) throw errdefs.notFound(`No such container: ${ref}`);
    return found;
  }

  find(ref: string): ContainerRecord | undefined {
    if (!ref) return undefined;
    const exact = this.byId.get(ref);
    if (exact) return exact;
    const name = ref.startsWith('/') ? ref : `/${ref}`;
    const byName = this.all().find((c) => c.Name === name);
    if (byName) return byName;
    if (!/^[a-f0-9]+$/.test(ref)) return undefined;
    const matches = this.all().filter((c) => c.Id.startsWith(ref));
    if (matches.length > 1) throw errdefs.invalidArgument(`multiple IDs found with provided prefix: ${ref}`);
    return matches[0];
  }
}
