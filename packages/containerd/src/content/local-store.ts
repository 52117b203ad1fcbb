/**
 * The content store on local disk, with per-namespace visibility in the record store.
 *
 *   <root>/content/blobs/sha256/<hex>        committed blobs, read-only, one file per digest for all namespaces
 *   <root>/content/ingest/<sha256(ns/ref)>/  one in-progress write: data, ref, namespace, total, expected,
 *                                            startedat, updatedat
 *   record ['namespaces', ns, 'content'] / <hex>: {size, createdAt, updatedAt, labels}
 *
 * A blob only ever appears under its digest once its bytes are written, fsynced and verified: the
 * ingest's data file is hard-linked into blobs/ (link(2) fails atomically if the digest is already
 * there), so kill -9 at any instant leaves either no file or the whole verified one. A crash between
 * the link and the namespace record leaves an unreferenced blob (invisible; GC's to collect, or
 * adopted by the next commit of the same digest); a crash mid-ingest leaves the ingest, which a
 * writer on the same ref resumes (its hash state is recomputed from the data) or Abort removes
 * (its metadata files are not synced: one that did not reach the disk is removed at start-up).
 *
 * Commits, deletes and label updates run their file-system steps synchronously, so within the
 * daemon's single thread no delete can interleave with a commit of the same digest.
 */
import { createHash, type Hash } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { alreadyExists, failedPrecondition, invalidArgument, notFound } from '../errors';
import type { Adaptor } from '../events/filters';
import { compileRequestFilters } from '../metadata/adaptors';
import { own, put } from '../metadata/maps';
import { namespaceBucket, NamespaceStore, NAMESPACES_BUCKET } from '../metadata/namespaces';
import { errdefs, fsyncDir, RecordConflict, type RecordStore, span, TEMP_PREFIX, writeFileAtomic } from '@gantry/linux';
import { pruneLabels, validateLabels } from '../metadata/validate';
import { validateNamespaceName } from '../rpc';
import { isSha256Digest, sha256Hex } from './digest';
import type { ContentInfo, ContentStore, ContentWriter, IngestStatus } from './types';

/** Read chunk size (also the Read RPC's message size). */
const READ_CHUNK = 1 << 20;
const CONTENT = 'content';
const TMP = TEMP_PREFIX;
const HEX_RE = /^[a-f0-9]{64}$/;
const REF_MAX = 4096;

interface ContentRecord {
  size: number;
  createdAt: string;
  updatedAt: string;
  labels: Record<string, string>;
}

interface IngestMeta extends IngestStatus {
  ns: string;
}

interface RefLock {
  since: Date;
  aborted: boolean;
}

const isErrno = (e: unknown, code: string) => (e as NodeJS.ErrnoException | undefined)?.code === code;

/**
 * A new file in a staging directory not yet renamed into place (its rename is the atomic step).
 * Not fsynced, as containerd does not sync an ingest's ref and total either: after a crash an
 * ingest whose files did not reach the disk reads as incomplete (readIngest) and is removed, which
 * costs a download again, never integrity: a commit verifies the bytes and syncs the data and the
 * blob directory before the blob gets a name. An fsync per file here (seven per ingest, on the
 * daemon's one thread) stalled every other stream of a pull.
 */
function writeStaged(file: string, content: string, mode = 0o600): void {
  fs.writeFileSync(file, content, { mode });
}

function checkRef(ref: string): void {
  if (ref === '') throw invalidArgument('ref must not be empty');
  if (ref.length > REF_MAX) throw invalidArgument(`ref is longer than ${REF_MAX} characters`);
  if (ref.includes('\0')) throw invalidArgument('ref must not contain NUL');
}

function checkSize(what: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw invalidArgument(`${what} ${n} is invalid: want a non-negative integer`);
}

const sha256Of = (hex: string) => `sha256:${hex}`;

function toInfo(hex: string, rec: ContentRecord): ContentInfo {
  return { digest: sha256Of(hex), size: rec.size, createdAt: new Date(rec.createdAt), updatedAt: new Date(rec.updatedAt), labels: { ...rec.labels } };
}

/** Content fields for List filters: digest, size, labels.<key> (containerd's names). */
function contentAdaptor(info: ContentInfo): Adaptor {
  return ([head, ...rest]) => {
    switch (head) {
      case 'digest':
        return rest.length === 0 ? info.digest : undefined;
      case 'size':
        return rest.length === 0 ? String(info.size) : undefined;
      case 'labels':
        return rest.length > 0 ? own(info.labels, rest.join('.')) : undefined;
      default:
        return undefined;
    }
  };
}

/** Ingest fields for ListStatuses filters: ref, expected, total. */
function ingestAdaptor(st: IngestStatus): Adaptor {
  return ([head, ...rest]) => {
    if (rest.length > 0) return undefined;
    if (head === 'ref') return st.ref;
    if (head === 'expected') return st.expected || undefined;
    if (head === 'total') return st.total > 0 ? String(st.total) : undefined;
    return undefined;
  };
}

export class LocalContentStore implements ContentStore {
  readonly contentRoot: string;
  private readonly blobDir: string;
  private readonly ingestRoot: string;
  private readonly namespaceStore: NamespaceStore;
  private readonly locks = new Map<string, RefLock>();

  /** `root`: the daemon's persistent root (the store lives in `<root>/content`); `records`: its metadata store. */
  constructor(
    root: string,
    private readonly records: RecordStore,
  ) {
    this.contentRoot = path.join(root, 'content');
    this.blobDir = path.join(this.contentRoot, 'blobs', 'sha256');
    this.ingestRoot = path.join(this.contentRoot, 'ingest');
    fs.mkdirSync(this.blobDir, { recursive: true, mode: 0o700 });
    fs.mkdirSync(this.ingestRoot, { recursive: true, mode: 0o700 });
    this.namespaceStore = new NamespaceStore(records);
    // ingests half-created by a crash (never renamed into place)
    for (const name of fs.readdirSync(this.ingestRoot)) {
      const dir = path.join(this.ingestRoot, name);
      // also those a crash left half-removed (metadata gone) or half-committed (data linked as a
      // blob): they can be neither resumed nor listed
      if (name.startsWith(TMP) || this.readIngest(dir) === undefined) fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  // ---- blobs and their namespace records ----

  blobPath(digest: string): string {
    return path.join(this.blobDir, sha256Hex(digest));
  }

  private bucket(ns: string): string[] {
    return namespaceBucket(ns, CONTENT);
  }

  private record(ns: string, hex: string): ContentRecord | undefined {
    return this.records.get<ContentRecord>(this.bucket(ns), hex);
  }

  private mustRecord(ns: string, digest: string): { hex: string; rec: ContentRecord } {
    validateNamespaceName(ns);
    const hex = sha256Hex(digest);
    const rec = this.record(ns, hex);
    if (!rec) throw notFound(`content digest ${digest}: not found`);
    return { hex, rec };
  }

  info(ns: string, digest: string): ContentInfo {
    const { hex, rec } = this.mustRecord(ns, digest);
    return toInfo(hex, rec);
  }

  update(ns: string, info: Pick<ContentInfo, 'digest' | 'labels'>, fieldpaths: string[]): ContentInfo {
    const { hex, rec } = this.mustRecord(ns, info.digest);
    let labels: Record<string, string> = { ...rec.labels };
    if (fieldpaths.length === 0) {
      labels = { ...info.labels };
    } else {
      for (const p of fieldpaths) {
        if (p === 'labels') {
          labels = { ...info.labels };
        } else if (p.startsWith('labels.') && p.length > 'labels.'.length) {
          const k = p.slice('labels.'.length);
          put(labels, k, own(info.labels, k) ?? ''); // absent or "": removed below
        } else {
          throw invalidArgument(`cannot update ${JSON.stringify(p)} field on content info ${JSON.stringify(info.digest)}: only labels are mutable`);
        }
      }
    }
    validateLabels(`content ${info.digest}`, labels);
    const next: ContentRecord = { ...rec, labels: pruneLabels(labels), updatedAt: new Date().toISOString() };
    try {
      this.records.update(this.bucket(ns), hex, next);
    } catch (e) {
      if (e instanceof RecordConflict) throw notFound(`content digest ${info.digest}: not found`);
      throw e;
    }
    return toInfo(hex, next);
  }

  list(ns: string, filters: string[]): ContentInfo[] {
    validateNamespaceName(ns);
    const match = compileRequestFilters(filters);
    const out: ContentInfo[] = [];
    for (const hex of this.records.keys(this.bucket(ns))) {
      const rec = this.record(ns, hex);
      if (!rec || !HEX_RE.test(hex)) continue;
      const info = toInfo(hex, rec);
      if (match(contentAdaptor(info))) out.push(info);
    }
    return out;
  }

  delete(ns: string, digest: string): void {
    validateNamespaceName(ns);
    const hex = sha256Hex(digest);
    try {
      this.records.delete(this.bucket(ns), hex);
    } catch (e) {
      if (e instanceof RecordConflict) throw notFound(`content digest ${digest}: not found`);
      throw e;
    }
    if (this.referenced(hex)) return;
    try {
      fs.unlinkSync(path.join(this.blobDir, hex));
      fsyncDir(this.blobDir);
    } catch (e) {
      if (!isErrno(e, 'ENOENT')) throw e;
    }
  }

  /** Whether any namespace still has a record of the blob. */
  private referenced(hex: string): boolean {
    return this.records.buckets([NAMESPACES_BUCKET]).some((ns) => this.record(ns, hex) !== undefined);
  }

  read(ns: string, digest: string, offset = 0, size = 0): Readable {
    const info = this.info(ns, digest);
    checkSize('read offset', offset);
    checkSize('read size', size);
    if (offset > info.size) throw errdefs.outOfRange(`read offset ${offset} is past the end of ${digest} (${info.size} bytes)`);
    let len = info.size - offset;
    if (size > 0 && size < len) len = size;
    if (len === 0) return Readable.from([]);
    const file = this.blobPath(digest);
    let fd: number;
    try {
      fd = fs.openSync(file, 'r'); // opened now: a delete during the read does not cut it short
    } catch (e) {
      if (isErrno(e, 'ENOENT')) throw notFound(`content digest ${digest}: blob missing from disk`);
      throw e;
    }
    return fs.createReadStream(file, { fd, start: offset, end: offset + len - 1, highWaterMark: READ_CHUNK, autoClose: true });
  }

  namespaces(): string[] {
    return this.records.buckets([NAMESPACES_BUCKET]).filter((ns) => this.records.keys(this.bucket(ns)).length > 0);
  }

  blobs(): string[] {
    return fs
      .readdirSync(this.blobDir)
      .filter((n) => HEX_RE.test(n))
      .sort()
      .map(sha256Of);
  }

  // ---- ingests ----

  private ingestKey(ns: string, ref: string): string {
    return `${ns}/${ref}`;
  }

  /** @internal */
  ingestDir(key: string): string {
    return path.join(this.ingestRoot, createHash('sha256').update(key).digest('hex'));
  }

  /** An ingest as on disk; undefined when absent or incomplete. */
  private readIngest(dir: string): IngestMeta | undefined {
    try {
      const read = (f: string) => fs.readFileSync(path.join(dir, f), 'utf8');
      const st = fs.statSync(path.join(dir, 'data'));
      // a commit linked the data under its digest and stopped before removing the ingest (kill -9):
      // the blob and this file are one inode, so resuming (truncate, write) would change the blob
      if (st.nlink > 1) return undefined;
      const startedAt = new Date(read('startedat'));
      if (Number.isNaN(startedAt.getTime())) return undefined;
      // files that did not reach the disk before a crash (they are not synced): incomplete
      const ns = read('namespace');
      const ref = read('ref');
      if (ns === '' || ref === '') return undefined;
      return {
        ns,
        ref,
        offset: st.size,
        total: Number(read('total')) || 0,
        expected: read('expected'),
        startedAt,
        updatedAt: st.mtime,
      };
    } catch (e) {
      if (isErrno(e, 'ENOENT') || isErrno(e, 'ENOTDIR')) return undefined;
      throw e;
    }
  }

  status(ns: string, ref: string): IngestStatus {
    validateNamespaceName(ns);
    checkRef(ref);
    const meta = this.readIngest(this.ingestDir(this.ingestKey(ns, ref)));
    if (!meta || meta.ns !== ns || meta.ref !== ref) throw notFound(`ref ${ref}: not found`);
    const { ns: _ns, ...st } = meta;
    return st;
  }

  listStatuses(ns: string, filters: string[]): IngestStatus[] {
    validateNamespaceName(ns);
    const match = compileRequestFilters(filters);
    const out: IngestStatus[] = [];
    for (const name of fs.readdirSync(this.ingestRoot)) {
      if (name.startsWith(TMP)) continue;
      const meta = this.readIngest(path.join(this.ingestRoot, name));
      if (!meta || meta.ns !== ns) continue;
      const { ns: _ns, ...st } = meta;
      if (match(ingestAdaptor(st))) out.push(st);
    }
    return out.sort((a, b) => (a.ref < b.ref ? -1 : a.ref > b.ref ? 1 : 0));
  }

  abort(ns: string, ref: string): void {
    validateNamespaceName(ns);
    checkRef(ref);
    const key = this.ingestKey(ns, ref);
    const dir = this.ingestDir(key);
    if (!fs.existsSync(dir)) throw notFound(`ref ${ref}: not found`);
    fs.rmSync(dir, { recursive: true, force: true });
    fsyncDir(this.ingestRoot);
    const lock = this.locks.get(key);
    if (lock) {
      lock.aborted = true; // the open writer fails from now on
      this.locks.delete(key);
    }
  }

  async writer(ns: string, ref: string, opts: { total?: number; expected?: string } = {}): Promise<ContentWriter> {
    validateNamespaceName(ns);
    checkRef(ref);
    const total = opts.total ?? 0;
    checkSize('total', total);
    const expected = opts.expected ?? '';
    if (expected !== '') {
      const hex = sha256Hex(expected);
      if (this.record(ns, hex)) throw alreadyExists(`content ${expected}: already exists`);
    }
    const key = this.ingestKey(ns, ref);
    const held = this.locks.get(key);
    if (held) throw errdefs.unavailable(`ref ${ref} locked since ${held.since.toISOString()}: another writer holds it`);
    const lock: RefLock = { since: new Date(), aborted: false };
    this.locks.set(key, lock); // before the first await: a concurrent open sees it
    try {
      return await this.openIngest(ns, ref, key, lock, total, expected);
    } catch (e) {
      this.unlock(key, lock);
      throw e;
    }
  }

  /** @internal */
  unlock(key: string, lock: RefLock): void {
    if (this.locks.get(key) === lock) this.locks.delete(key);
  }

  private async openIngest(ns: string, ref: string, key: string, lock: RefLock, total: number, expected: string): Promise<LocalWriter> {
    const dir = this.ingestDir(key);
    let meta = this.readIngest(dir);
    if (meta && (meta.ns !== ns || meta.ref !== ref)) throw new Error(`ingest ${dir} holds ${meta.ns}/${meta.ref}, not ${key}`);
    let created = false;
    if (!meta) {
      fs.rmSync(dir, { recursive: true, force: true }); // an incomplete leftover
      const tmp = path.join(this.ingestRoot, `${TMP}${process.pid}-${Math.random().toString(36).slice(2)}`);
      fs.mkdirSync(tmp, { mode: 0o700 });
      const now = new Date();
      writeStaged(path.join(tmp, 'ref'), ref);
      writeStaged(path.join(tmp, 'namespace'), ns);
      writeStaged(path.join(tmp, 'total'), String(total));
      writeStaged(path.join(tmp, 'expected'), expected);
      writeStaged(path.join(tmp, 'startedat'), now.toISOString());
      writeStaged(path.join(tmp, 'updatedat'), now.toISOString());
      writeStaged(path.join(tmp, 'data'), '');
      fs.renameSync(tmp, dir);
      meta = { ns, ref, offset: 0, total, expected, startedAt: now, updatedAt: now };
      created = true;
    } else {
      if (total > 0 && meta.total > 0 && total !== meta.total) {
        throw failedPrecondition(`ref ${ref}: provided total ${total} differs from the ingest's ${meta.total}`);
      }
      if (expected !== '' && meta.expected !== '' && expected !== meta.expected) {
        throw failedPrecondition(`ref ${ref}: provided expected digest ${expected} differs from the ingest's ${meta.expected}`);
      }
      if (total > 0 && meta.total === 0) {
        writeFileAtomic(path.join(dir, 'total'), String(total));
        meta.total = total;
      }
      if (expected !== '' && meta.expected === '') {
        writeFileAtomic(path.join(dir, 'expected'), expected);
        meta.expected = expected;
      }
      fs.chmodSync(path.join(dir, 'data'), 0o600); // a commit that failed after making it read-only
    }
    const fh = await fsp.open(path.join(dir, 'data'), 'r+');
    try {
      const hash = createHash('sha256');
      // resume: the hash state is not saved, so recompute it from the bytes on disk
      const size = (await fh.stat()).size;
      const buf = Buffer.allocUnsafe(Math.min(READ_CHUNK, Math.max(size, 1)));
      for (let pos = 0; pos < size;) {
        const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - pos), pos);
        if (bytesRead === 0) throw new Error(`ingest ${dir}: data shrank while resuming`);
        hash.update(buf.subarray(0, bytesRead));
        pos += bytesRead;
      }
      return new LocalWriter(this, { ...meta, offset: size }, key, dir, lock, fh, hash, created);
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  /**
   * @internal The synchronous end of a commit: the data file (verified, fsynced, read-only) goes
   * under its digest by link(2), the ingest is removed, and the namespace gets its record.
   */
  publish(ns: string, ref: string, dir: string, hex: string, size: number, labels: Record<string, string>): ContentInfo {
    const target = path.join(this.blobDir, hex);
    try {
      fs.linkSync(path.join(dir, 'data'), target);
      fsyncDir(this.blobDir);
    } catch (e) {
      if (isErrno(e, 'ENOENT')) throw notFound(`ref ${ref}: ingest was aborted`);
      if (!isErrno(e, 'EEXIST')) throw e; // already on disk (another namespace, or an earlier commit): only the record is new
    }
    fs.rmSync(dir, { recursive: true, force: true });
    fsyncDir(this.ingestRoot);
    const now = new Date().toISOString();
    const rec: ContentRecord = { size, createdAt: now, updatedAt: now, labels: pruneLabels(labels) };
    this.namespaceStore.ensure(ns); // containerd creates a namespace on first use
    try {
      this.records.create(this.bucket(ns), hex, rec);
    } catch (e) {
      if (e instanceof RecordConflict && e.kind === 'exists') throw alreadyExists(`content ${sha256Of(hex)}: already exists`);
      throw e;
    }
    return toInfo(hex, rec);
  }
}

class LocalWriter implements ContentWriter {
  private closed = false;
  private _offset: number;
  private readonly st: IngestMeta;

  constructor(
    private readonly store: LocalContentStore,
    meta: IngestMeta,
    private readonly key: string,
    private readonly dir: string,
    private readonly lock: RefLock,
    private readonly fh: fsp.FileHandle,
    private hash: Hash,
    /** Whether opening it started a new ingest (false: resumed). */
    readonly created: boolean,
  ) {
    this.st = meta;
    this._offset = meta.offset;
  }

  get ref(): string {
    return this.st.ref;
  }

  get offset(): number {
    return this._offset;
  }

  digest(): string {
    return `sha256:${this.hash.copy().digest('hex')}`;
  }

  private check(): void {
    if (this.lock.aborted) throw notFound(`ref ${this.st.ref}: ingest was aborted`);
    if (this.closed) throw failedPrecondition(`ref ${this.st.ref}: writer is closed`);
  }

  async write(data: Buffer): Promise<void> {
    this.check();
    let done = 0;
    try {
      while (done < data.length) {
        const { bytesWritten } = await this.fh.write(data, done, data.length - done, this._offset + done);
        done += bytesWritten;
      }
    } catch (e) {
      await this.fh.truncate(this._offset).catch(() => undefined); // keep data == what the hash saw
      throw e;
    }
    this.hash.update(data);
    this._offset += data.length;
    this.st.updatedAt = new Date();
  }

  async truncate(size: number): Promise<void> {
    this.check();
    checkSize('truncate size', size);
    if (size > this._offset) throw invalidArgument(`ref ${this.st.ref}: cannot truncate to ${size}, past the current offset ${this._offset}`);
    await this.fh.truncate(size);
    const hash = createHash('sha256');
    const buf = Buffer.allocUnsafe(Math.min(READ_CHUNK, Math.max(size, 1)));
    for (let pos = 0; pos < size;) {
      const { bytesRead } = await this.fh.read(buf, 0, Math.min(buf.length, size - pos), pos);
      if (bytesRead === 0) throw new Error(`ingest ${this.dir}: data shrank during truncate`);
      hash.update(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
    this.hash = hash;
    this._offset = size;
    this.st.updatedAt = new Date();
  }

  status(): IngestStatus {
    return {
      ref: this.st.ref,
      offset: this._offset,
      total: this.st.total,
      expected: this.st.expected,
      startedAt: this.st.startedAt,
      updatedAt: this.st.updatedAt,
    };
  }

  async commit(size: number, expected: string, labels: Record<string, string> = {}): Promise<ContentInfo> {
    this.check();
    checkSize('commit size', size);
    const want = size > 0 ? size : this.st.total;
    if (want > 0 && want !== this._offset) throw failedPrecondition(`unexpected commit size ${this._offset}, expected ${want}`);
    const actual = this.digest();
    const exp = expected !== '' ? expected : this.st.expected;
    if (exp !== '' && exp !== actual) {
      if (!isSha256Digest(exp)) sha256Hex(exp); // a malformed digest is INVALID_ARGUMENT, not a mismatch
      throw failedPrecondition(`unexpected commit digest ${actual}, expected ${exp}`);
    }
    validateLabels(`content ${actual}`, labels);
    // the bytes are verified: make them durable and read-only before they get a name
    this.closed = true;
    try {
      try {
        await this.fh.chmod(0o444);
        const synced = span('containerd.content.fsync', { bytes: this._offset });
        await this.fh.sync();
        synced.end();
      } finally {
        await this.fh.close().catch(() => undefined);
      }
      if (this.lock.aborted) throw notFound(`ref ${this.st.ref}: ingest was aborted`);
      return this.store.publish(this.st.ns, this.st.ref, this.dir, actual.slice('sha256:'.length), this._offset, labels);
    } finally {
      this.store.unlock(this.key, this.lock);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.store.unlock(this.key, this.lock);
    await this.fh.close().catch(() => undefined);
    if (!this.lock.aborted) {
      try {
        writeFileAtomic(path.join(this.dir, 'updatedat'), this.st.updatedAt.toISOString());
      } catch {
        // best effort: the data file's mtime is the authority
      }
    }
  }
}
