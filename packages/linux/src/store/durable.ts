/**
 * Crash-safe files: the one implementation every Gantry daemon uses for its metadata.
 *
 * A write goes to a temp file in the target's directory (same file system, so rename(2) is atomic),
 * the temp file is fsynced, renamed (or linked, for an exclusive create) over the target, and the
 * directory is fsynced so the new name survives a power cut. A reader sees the old content or the
 * new, never part of either; kill -9 at any instant leaves at most a temp file (`.tmp-` prefix),
 * which `sweepTempFiles` removes on the next start.
 *
 * These are ordinary file operations on the daemon's own state, not kernel-state changes, so they
 * use node:fs directly; `DurableFs` lets a test record or fake the calls.
 */
import * as nodeFs from 'node:fs';
import * as path from 'node:path';

/** Temp files start with this; callers never use it for their own names. */
export const TEMP_PREFIX = '.tmp-';
/** The directory a record that cannot be read is moved to, next to it. */
export const QUARANTINE_DIR = 'quarantine';

/** The node:fs calls this module makes (a test passes a recording wrapper). */
export type DurableFs = Pick<
  typeof nodeFs,
  'openSync' | 'writeSync' | 'fsyncSync' | 'closeSync' | 'renameSync' | 'linkSync' | 'unlinkSync' | 'mkdirSync' | 'readdirSync' | 'readFileSync' | 'rmSync'
>;

export interface WriteOptions {
  /** Mode of a newly written file (default 0o600: daemon metadata is private). */
  mode?: number;
  fs?: DurableFs;
  /**
   * What the write must survive. `power-loss` (the default): the temp file and the directory are
   * fsynced. `process-crash`: the same temp file and rename, without fsync — enough against kill -9
   * (the page cache outlives the process), for state that describes processes, which a power loss
   * ends anyway (the runtime's state.json in /run, as runc writes it).
   */
  durability?: 'power-loss' | 'process-crash';
}

/** The target exists (createFileExclusive). */
export class FileExistsError extends Error {
  readonly code = 'EEXIST';
  constructor(readonly file: string) {
    super(`${file} already exists`);
    this.name = 'FileExistsError';
  }
}

const isErrno = (e: unknown, code: string) => (e as NodeJS.ErrnoException | undefined)?.code === code;

/** fsync a directory, so the names created, renamed or removed in it are on disk. */
export function fsyncDir(dir: string, fs: DurableFs = nodeFs): void {
  const fd = fs.openSync(dir, nodeFs.constants.O_RDONLY | nodeFs.constants.O_DIRECTORY);
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Write `data` to a new temp file in `dir` and fsync it; returns its path. */
function writeTemp(dir: string, data: string | Uint8Array, mode: number, fs: DurableFs, sync = true): string {
  const tmp = path.join(dir, `${TEMP_PREFIX}${process.pid}-${Math.random().toString(36).slice(2)}`);
  const fd = fs.openSync(tmp, 'wx', mode);
  try {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    // writeSync may write less than asked (a signal, a full pipe): loop until all of it is written
    for (let off = 0; off < buf.length;) off += fs.writeSync(fd, buf, off, buf.length - off);
    if (sync) fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    removeQuietly(tmp, fs);
    throw e;
  }
  fs.closeSync(fd);
  return tmp;
}

function removeQuietly(file: string, fs: DurableFs): void {
  try {
    fs.unlinkSync(file);
  } catch {
    // already gone; a stray temp file is swept on the next start anyway
  }
}

/** Replace (or create) `file` with `data` atomically and durably. The directory must exist. */
export function writeFileAtomic(file: string, data: string | Uint8Array, opts: WriteOptions = {}): void {
  const fs = opts.fs ?? nodeFs;
  const dir = path.dirname(file);
  const sync = opts.durability !== 'process-crash';
  const tmp = writeTemp(dir, data, opts.mode ?? 0o600, fs, sync);
  try {
    fs.renameSync(tmp, file);
  } catch (e) {
    removeQuietly(tmp, fs);
    throw e;
  }
  if (sync) fsyncDir(dir, fs);
}

/** JSON.stringify `value` into `file` atomically (writeFileAtomic). */
export function writeJsonAtomic(file: string, value: unknown, opts: WriteOptions = {}): void {
  writeFileAtomic(file, JSON.stringify(value), opts);
}

/**
 * Create `file` with `data` atomically, failing with FileExistsError when it exists: link(2) of
 * the synced temp file never replaces a name, so of two racing creators exactly one wins.
 */
export function createFileExclusive(file: string, data: string | Uint8Array, opts: WriteOptions = {}): void {
  const fs = opts.fs ?? nodeFs;
  const dir = path.dirname(file);
  const tmp = writeTemp(dir, data, opts.mode ?? 0o600, fs);
  try {
    fs.linkSync(tmp, file);
  } catch (e) {
    if (isErrno(e, 'EEXIST')) throw new FileExistsError(file);
    throw e;
  } finally {
    removeQuietly(tmp, fs);
  }
  fsyncDir(dir, fs);
}

/** Remove `file` durably; false when it did not exist. */
export function removeFileDurable(file: string, fs: DurableFs = nodeFs): boolean {
  try {
    fs.unlinkSync(file);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return false;
    throw e;
  }
  fsyncDir(path.dirname(file), fs);
  return true;
}

/** Remove a directory tree and make its removal durable (the parent is fsynced). */
export function removeTreeDurable(dir: string, fs: DurableFs = nodeFs): void {
  fs.rmSync(dir, { recursive: true, force: true });
  try {
    fsyncDir(path.dirname(dir), fs);
  } catch (e) {
    if (!isErrno(e, 'ENOENT')) throw e;
  }
}

/**
 * Remove temp files a crash left behind in `dir` (and below, with `recursive`; quarantine
 * directories are left as they are). Returns the paths removed.
 */
export function sweepTempFiles(dir: string, opts: { recursive?: boolean; fs?: DurableFs } = {}): string[] {
  const fs = opts.fs ?? nodeFs;
  const removed: string[] = [];
  let entries: nodeFs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return removed;
    throw e;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (opts.recursive && e.name !== QUARANTINE_DIR) removed.push(...sweepTempFiles(p, opts));
    } else if (e.name.startsWith(TEMP_PREFIX)) {
      removeQuietly(p, fs);
      removed.push(p);
    }
  }
  return removed;
}

/** What was moved aside and why: for the daemon's structured log. */
export interface QuarantineReport {
  /** Where the record was. */
  file: string;
  /** Where it is now (the same as `file` when it could not be moved: see `moveError`). */
  quarantinedAs: string;
  /** Why it could not be used (the parse or read error). */
  reason: string;
  /** Set when moving it failed (a read-only file system, say): it was left where it was, unused. */
  moveError?: string;
}

/** 2026-12-02T06:44:10.123Z → 20261202T064410.123Z: sortable, and no ':' in a file name. */
function stamp(now: Date): string {
  return now.toISOString().replace(/[-:]/g, '');
}

/**
 * Move a record that cannot be used out of the way, never deleting it: to
 * `<quarantineDir>/<name>.<timestamp>` (default quarantineDir: `quarantine/` next to the file).
 * Only the record moves; whatever else is in its directory (logs, data) stays where it is.
 */
export function quarantineFile(file: string, reason: string, opts: { quarantineDir?: string; now?: Date; fs?: DurableFs } = {}): QuarantineReport {
  const fs = opts.fs ?? nodeFs;
  const qdir = opts.quarantineDir ?? path.join(path.dirname(file), QUARANTINE_DIR);
  fs.mkdirSync(qdir, { recursive: true, mode: 0o700 });
  const base = `${path.basename(file)}.${stamp(opts.now ?? new Date())}`;
  for (let n = 0; ; n++) {
    const target = path.join(qdir, n === 0 ? base : `${base}.${n}`);
    try {
      // link then unlink, not rename: rename would silently replace an earlier quarantined copy
      fs.linkSync(file, target);
    } catch (e) {
      if (isErrno(e, 'EEXIST')) continue;
      if (!isErrno(e, 'EPERM')) throw e;
      // a directory where a record should be: it cannot be linked, so it is renamed
      fs.renameSync(file, target);
      fsyncDir(qdir, fs);
      fsyncDir(path.dirname(file), fs);
      return { file, quarantinedAs: target, reason };
    }
    fsyncDir(qdir, fs);
    removeFileDurable(file, fs);
    return { file, quarantinedAs: target, reason };
  }
}

export type JsonRead<T> = { kind: 'missing' } | { kind: 'ok'; value: T } | { kind: 'corrupt'; reason: string };

/**
 * Read and parse a JSON record. `validate` (optional) checks its shape and returns a reason when
 * it is not what the caller stored. Errors other than "no such file" and bad content are thrown:
 * EACCES or EIO say nothing about the record itself.
 */
export function readJsonFile<T>(file: string, validate?: (v: unknown) => string | undefined, fs: DurableFs = nodeFs): JsonRead<T> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return { kind: 'missing' };
    if (isErrno(e, 'EISDIR')) return { kind: 'corrupt', reason: 'is a directory' };
    throw e;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { kind: 'corrupt', reason: `invalid JSON: ${(e as Error).message}` };
  }
  const bad = validate?.(value);
  if (bad !== undefined) return { kind: 'corrupt', reason: bad };
  return { kind: 'ok', value: value as T };
}

/**
 * Load a record at start-up: its value, undefined when missing, or (when it cannot be parsed or
 * fails `validate`) undefined after moving it to quarantine and calling `onQuarantine`.
 */
export function loadJsonOrQuarantine<T>(
  file: string,
  opts: { validate?: (v: unknown) => string | undefined; onQuarantine: (r: QuarantineReport) => void; quarantineDir?: string; fs?: DurableFs },
): T | undefined {
  const r = readJsonFile<T>(file, opts.validate, opts.fs);
  if (r.kind === 'ok') return r.value;
  if (r.kind === 'corrupt') opts.onQuarantine(tryQuarantine(file, r.reason, { quarantineDir: opts.quarantineDir, fs: opts.fs }));
  return undefined;
}

/**
 * quarantineFile for start-up paths: a failure to move the record must not stop the daemon, so it
 * is reported (`moveError`) and the record is left where it is, unused.
 */
export function tryQuarantine(file: string, reason: string, opts: { quarantineDir?: string; fs?: DurableFs } = {}): QuarantineReport {
  try {
    return quarantineFile(file, reason, opts);
  } catch (e) {
    return { file, quarantinedAs: file, reason, moveError: (e as Error).message };
  }
}

/** A check for `validate`: a JSON object (not null, not an array). */
export function isJsonObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `validate` for records that must be objects with the given string fields. */
export function requireStringFields(...fields: string[]): (v: unknown) => string | undefined {
  return (v) => {
    if (!isJsonObject(v)) return 'not a JSON object';
    for (const f of fields) if (typeof v[f] !== 'string' || v[f] === '') return `field ${f} is missing or not a string`;
    return undefined;
  };
}
