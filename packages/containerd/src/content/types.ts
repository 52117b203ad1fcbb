import type { Readable } from 'node:stream';

/**
 * The content store contract (containerd's content.Store), shared by the content, images, diff,
 * leases and GC code. Blobs are global on disk; their visibility and labels are per namespace.
 * Digests are "sha256:<hex>". Errors are errdefs kinds, sent as containerd's gRPC codes (NOT_FOUND,
 * ALREADY_EXISTS, FAILED_PRECONDITION, UNAVAILABLE for a locked ref, INVALID_ARGUMENT).
 */
export interface ContentInfo {
  digest: string;
  size: number;
  createdAt: Date;
  updatedAt: Date;
  labels: Record<string, string>;
}

export interface IngestStatus {
  ref: string;
  offset: number;
  /** Expected total size, 0 when unknown. */
  total: number;
  /** Expected digest, "" when unknown. */
  expected: string;
  startedAt: Date;
  updatedAt: Date;
}

/**
 * One open ingest, held exclusively (a second writer on the same ref gets UNAVAILABLE until this
 * one is closed or committed). Calls must not overlap: await each before the next.
 */
export interface ContentWriter {
  readonly ref: string;
  /** Bytes written so far (a resumed ingest starts where it stopped). */
  readonly offset: number;
  /** Digest of the bytes written so far. */
  digest(): string;
  /** Append at the current offset. */
  write(data: Buffer): Promise<void>;
  /** Cut the ingest back to `size` bytes (≤ offset); 0 restarts it (containerd's Truncate). */
  truncate(size: number): Promise<void>;
  /**
   * Verify size and digest (FAILED_PRECONDITION "unexpected commit size/digest"), move the blob
   * into place and make it visible in the namespace; removes the ingest and releases the writer.
   * `size` 0 / `expected` "" fall back to the total/expected the ingest was opened with (none: not
   * checked). A blob the namespace already has: ALREADY_EXISTS (the ingest is removed all the same).
   * On a failed verification the ingest and the writer stay, for a resume or an abort.
   */
  commit(size: number, expected: string, labels?: Record<string, string>): Promise<ContentInfo>;
  status(): IngestStatus;
  /** Release the writer, keeping the ingest for a later resume. Idempotent. */
  close(): Promise<void>;
}

export interface ContentStore {
  info(ns: string, digest: string): ContentInfo; // not-found when absent in ns
  /** Only labels are mutable: fieldpaths "labels" (replace all) or "labels.<k>"; none: replace all. */
  update(ns: string, info: Pick<ContentInfo, 'digest' | 'labels'>, fieldpaths: string[]): ContentInfo;
  /** Filters over digest, size, labels.<k> (containerd's syntax; several strings are OR'ed). */
  list(ns: string, filters: string[]): ContentInfo[];
  /** Remove from the namespace (NOT_FOUND when absent); the file goes when no namespace has it. */
  delete(ns: string, digest: string): void;
  /** Path of the committed blob on disk (for readers that want a file). */
  blobPath(digest: string): string;
  /** `size` 0 (or past the end): to the end; an offset past the end is OUT_OF_RANGE. */
  read(ns: string, digest: string, offset?: number, size?: number): Readable;
  /**
   * Open (or resume) an ingest; `expected` digest and `total` size are optional hints checked at
   * commit. ALREADY_EXISTS when `expected` is already in the namespace; UNAVAILABLE while another
   * writer holds the ref.
   */
  writer(ns: string, ref: string, opts?: { total?: number; expected?: string }): Promise<ContentWriter>;
  status(ns: string, ref: string): IngestStatus;
  /** Filters over ref, expected, total. */
  listStatuses(ns: string, filters: string[]): IngestStatus[];
  /** Remove an ingest (NOT_FOUND when absent); a writer still open on it fails from then on. */
  abort(ns: string, ref: string): void;
  /** For GC: namespaces holding content records (each one's digests: list(ns, [])). */
  namespaces(): string[];
  /** For GC: every blob on disk, referenced or not. */
  blobs(): string[];
}
