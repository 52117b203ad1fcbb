import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  createFileExclusive,
  FileExistsError,
  QUARANTINE_DIR,
  type QuarantineReport,
  readJsonFile,
  removeFileDurable,
  removeTreeDurable,
  sweepTempFiles,
  TEMP_PREFIX,
  tryQuarantine,
  writeJsonAtomic,
} from './durable';

/** A key that already exists (create) or does not (update/delete). */
export class RecordConflict extends Error {
  constructor(
    readonly kind: 'exists' | 'missing',
    message: string,
  ) {
    super(message);
    this.name = 'RecordConflict';
  }
}

function checkKey(key: string): void {
  if (!key || key === '.' || key === '..' || key.includes('/') || key.includes('\0') || key.startsWith(TEMP_PREFIX)) {
    throw new Error(`invalid key ${JSON.stringify(key)}`);
  }
}

export interface RecordStoreOptions {
  /** Called once per record moved to quarantine when the store opens (for the daemon's log). */
  onQuarantine?: (r: QuarantineReport) => void;
}

/**
 * Crash-safe JSON records, one file each: `<root>/<bucket...>/<key>.json`, written through
 * ./durable (temp file, fsync, rename or link, fsync of the directory).
 *
 * Opening the store removes temp files left by a crash and checks that every record parses: one
 * that does not is moved to `<root>/quarantine/<bucket...>/<key>.json.<timestamp>` (not beside it:
 * a sub-directory of a bucket is a bucket) and reported, so the rest of the store still serves.
 * Why not an embedded database: the metadata is small (namespaces, containers), written rarely,
 * and this needs no native module and no recovery code.
 */
export class RecordStore {
  /** The records quarantined when this store was opened. */
  readonly quarantined: QuarantineReport[] = [];

  constructor(
    readonly root: string,
    opts: RecordStoreOptions = {},
  ) {
    fs.mkdirSync(root, { recursive: true, mode: 0o700 });
    this.check(root, [], (r) => {
      this.quarantined.push(r);
      opts.onQuarantine?.(r);
    });
  }

  /** Remove temp files left by a crash mid-write and quarantine records that do not parse. */
  private check(dir: string, bucket: string[], report: (r: QuarantineReport) => void): void {
    sweepTempFiles(dir);
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (!(bucket.length === 0 && e.name === QUARANTINE_DIR)) this.check(p, [...bucket, e.name], report);
      } else if (e.name.endsWith('.json')) {
        const r = readJsonFile(p);
        if (r.kind === 'corrupt') report(tryQuarantine(p, r.reason, { quarantineDir: path.join(this.root, QUARANTINE_DIR, ...bucket) }));
      }
    }
  }

  private dir(bucket: readonly string[]): string {
    bucket.forEach(checkKey);
    if (bucket[0] === QUARANTINE_DIR) throw new Error(`invalid bucket ${JSON.stringify(QUARANTINE_DIR)}: reserved`);
    return path.join(this.root, ...bucket);
  }

  private file(bucket: readonly string[], key: string): string {
    checkKey(key);
    return path.join(this.dir(bucket), `${key}.json`);
  }

  get<T>(bucket: readonly string[], key: string): T | undefined {
    const file = this.file(bucket, key);
    const r = readJsonFile<T>(file);
    if (r.kind === 'missing') return undefined;
    // checked when the store opened and written atomically since: this is damage after the start
    if (r.kind === 'corrupt') throw new Error(`${file}: ${r.reason}`);
    return r.value;
  }

  /** Store a new record; RecordConflict('exists') if the key is taken. */
  create(bucket: readonly string[], key: string, value: unknown): void {
    const file = this.file(bucket, key);
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    try {
      createFileExclusive(file, JSON.stringify(value));
    } catch (e) {
      if (e instanceof FileExistsError) throw new RecordConflict('exists', `${[...bucket, key].join('/')} already exists`);
      throw e;
    }
  }

  /** Replace an existing record; RecordConflict('missing') if there is none. */
  update(bucket: readonly string[], key: string, value: unknown): void {
    const target = this.file(bucket, key);
    if (!fs.existsSync(target)) throw new RecordConflict('missing', `${[...bucket, key].join('/')} does not exist`);
    writeJsonAtomic(target, value);
  }

  delete(bucket: readonly string[], key: string): void {
    if (!removeFileDurable(this.file(bucket, key))) throw new RecordConflict('missing', `${[...bucket, key].join('/')} does not exist`);
  }

  /** Keys in a bucket, sorted. */
  keys(bucket: readonly string[]): string[] {
    try {
      return fs
        .readdirSync(this.dir(bucket))
        .filter((n) => n.endsWith('.json') && !n.startsWith(TEMP_PREFIX))
        .map((n) => n.slice(0, -5))
        .sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  }

  /** Sub-buckets of a bucket (e.g. the namespaces), sorted. */
  buckets(bucket: readonly string[]): string[] {
    try {
      return fs
        .readdirSync(this.dir(bucket), { withFileTypes: true })
        .filter((e) => e.isDirectory() && !(bucket.length === 0 && e.name === QUARANTINE_DIR))
        .map((e) => e.name)
        .sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  }

  /** Remove an empty bucket directory tree (after its records are gone). */
  removeBucket(bucket: readonly string[]): void {
    removeTreeDurable(this.dir(bucket));
  }
}
