import * as fs from 'node:fs';
import * as path from 'node:path';

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

const TMP = '.tmp-';

function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function checkKey(key: string): void {
  if (!key || key === '.' || key === '..' || key.includes('/') || key.includes('\0') || key.startsWith(TMP)) {
    throw new Error(`invalid key ${JSON.stringify(key)}`);
  }
}

/**
 * Crash-safe JSON records, one file each: `<root>/<bucket...>/<key>.json`.
 *
 * Every write goes to a temp file that is fsynced, then moved into place with rename(2) (update)
 * or link(2) (create: fails atomically when the key exists), then the directory is fsynced. A
 * reader sees the old record or the new one, never a torn one; kill -9 at any instant leaves at
 * most a stray temp file, removed on open. Why not an embedded database: the metadata is small
 * (namespaces, containers), written rarely, and this needs no native module and no recovery code.
 */
export class RecordStore {
  constructor(readonly root: string) {
    fs.mkdirSync(root, { recursive: true, mode: 0o700 });
    this.sweep(root);
  }

  /** Remove temp files left by a crash mid-write. */
  private sweep(dir: string): void {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) this.sweep(p);
      else if (e.name.startsWith(TMP)) fs.rmSync(p, { force: true });
    }
  }

  private dir(bucket: readonly string[]): string {
    bucket.forEach(checkKey);
    return path.join(this.root, ...bucket);
  }

  private file(bucket: readonly string[], key: string): string {
    checkKey(key);
    return path.join(this.dir(bucket), `${key}.json`);
  }

  private writeTemp(dir: string, value: unknown): string {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tmp = path.join(dir, `${TMP}${process.pid}-${Math.random().toString(36).slice(2)}`);
    const fd = fs.openSync(tmp, 'wx', 0o600);
    try {
      fs.writeSync(fd, JSON.stringify(value));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    return tmp;
  }

  get<T>(bucket: readonly string[], key: string): T | undefined {
    try {
      return JSON.parse(fs.readFileSync(this.file(bucket, key), 'utf8')) as T;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  /** Store a new record; RecordConflict('exists') if the key is taken. */
  create(bucket: readonly string[], key: string, value: unknown): void {
    const dir = this.dir(bucket);
    const tmp = this.writeTemp(dir, value);
    try {
      fs.linkSync(tmp, this.file(bucket, key));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new RecordConflict('exists', `${[...bucket, key].join('/')} already exists`);
      throw e;
    } finally {
      fs.rmSync(tmp, { force: true });
    }
    fsyncDir(dir);
  }

  /** Replace an existing record; RecordConflict('missing') if there is none. */
  update(bucket: readonly string[], key: string, value: unknown): void {
    const target = this.file(bucket, key);
    if (!fs.existsSync(target)) throw new RecordConflict('missing', `${[...bucket, key].join('/')} does not exist`);
    const dir = this.dir(bucket);
    fs.renameSync(this.writeTemp(dir, value), target);
    fsyncDir(dir);
  }

  delete(bucket: readonly string[], key: string): void {
    try {
      fs.unlinkSync(this.file(bucket, key));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new RecordConflict('missing', `${[...bucket, key].join('/')} does not exist`);
      throw e;
    }
    fsyncDir(this.dir(bucket));
  }

  /** Keys in a bucket, sorted. */
  keys(bucket: readonly string[]): string[] {
    try {
      return fs
        .readdirSync(this.dir(bucket))
        .filter((n) => n.endsWith('.json') && !n.startsWith(TMP))
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
        .filter((e) => e.isDirectory())
        .map((e) => e.name)
        .sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  }

  /** Remove an empty bucket directory tree (after its records are gone). */
  removeBucket(bucket: readonly string[]): void {
    fs.rmSync(this.dir(bucket), { recursive: true, force: true });
    fsyncDir(path.dirname(this.dir(bucket)));
  }
}
