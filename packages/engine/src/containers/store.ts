import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { conflict, notFound, badRequest } from '../http/errors';
import type { ContainerRecord } from './record';
import { generateName } from './names';

const NAME_RE = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/**
 * Containers on disk: <data-root>/containers/<id>/config.v2.json (written to a temp file and
 * renamed, so a crash never leaves half a record) plus the json-file log beside it. Lookups by
 * full id, unique id prefix or name, as Docker resolves them.
 */
export class ContainerStore {
  private readonly byId = new Map<string, ContainerRecord>();
  readonly dir: string;

  constructor(dataRoot: string) {
    this.dir = path.join(dataRoot, 'containers');
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o710 });
    for (const id of fs.readdirSync(this.dir)) {
      try {
        const rec = JSON.parse(fs.readFileSync(path.join(this.dir, id, 'config.v2.json'), 'utf8')) as ContainerRecord;
        this.byId.set(rec.Id, rec);
      } catch {
        // a directory without a complete record: the create that made it did not finish
        fs.rmSync(path.join(this.dir, id), { recursive: true, force: true });
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
      if (!NAME_RE.test(requested)) throw badRequest(`Invalid container name (${requested}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
      const name = requested.startsWith('/') ? requested : `/${requested}`;
      const owner = this.all().find((c) => c.Name === name);
      if (owner) throw conflict(`Conflict. The container name "${name}" is already in use by container "${owner.Id}". You have to remove (or rename) that container to be able to reuse that name.`);
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
    const file = path.join(dir, 'config.v2.json');
    const tmp = `${file}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(rec));
    fs.renameSync(tmp, file);
    this.byId.set(rec.Id, rec);
  }

  remove(id: string): void {
    this.byId.delete(id);
    fs.rmSync(this.containerDir(id), { recursive: true, force: true });
  }

  all(): ContainerRecord[] {
    return [...this.byId.values()];
  }

  /** By full id, name (with or without "/"), or unique id prefix; 404 otherwise. */
  get(ref: string): ContainerRecord {
    const found = this.find(ref);
    if (!found) throw notFound(`No such container: ${ref}`);
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
    if (matches.length > 1) throw badRequest(`multiple IDs found with provided prefix: ${ref}`);
    return matches[0];
  }
}
