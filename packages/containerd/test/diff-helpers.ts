/**
 * Helpers for the diff-*.test.ts suites: a tiny tar writer written from the ustar/PAX layout
 * (independent of src/diff/tar.ts, so the reader is not only checked against its own writer),
 * tree snapshots for "nothing changed outside" checks, and temp dirs.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';

export interface RawEntry {
  name: string;
  /** ustar typeflag: '0' file, '1' hard link, '2' symlink, '3' chr, '4' blk, '5' dir, '6' fifo */
  type?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  linkname?: string;
  data?: Buffer | string;
  devmajor?: number;
  devminor?: number;
  /** PAX records written in an 'x' header before the entry. */
  pax?: Record<string, string | Buffer>;
  /** Corrupt the checksum. */
  badChecksum?: boolean;
}

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

function header(
  e: { name: string; type: string; mode: number; uid: number; gid: number; size: number; mtime: number; linkname: string; devmajor: number; devminor: number },
  bad = false,
): Buffer {
  const b = Buffer.alloc(512);
  b.write(e.name, 0, 100, 'utf8');
  b.write(octal(e.mode, 8), 100, 'latin1');
  b.write(octal(e.uid, 8), 108, 'latin1');
  b.write(octal(e.gid, 8), 116, 'latin1');
  b.write(octal(e.size, 12), 124, 'latin1');
  b.write(octal(e.mtime, 12), 136, 'latin1');
  b.write(e.type, 156, 'latin1');
  b.write(e.linkname, 157, 100, 'utf8');
  b.write('ustar\0' + '00', 257, 'latin1');
  b.write(octal(e.devmajor, 8), 329, 'latin1');
  b.write(octal(e.devminor, 8), 337, 'latin1');
  b.fill(' ', 148, 156);
  let sum = 0;
  for (const c of b) sum += c;
  if (bad) sum += 1;
  b.write(octal(sum, 7) + ' ', 148, 'latin1');
  return b;
}

const pad = (n: number) => Buffer.alloc((512 - (n % 512)) % 512);

function paxData(records: Record<string, string | Buffer>): Buffer {
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(records)) {
    const body = Buffer.concat([Buffer.from(` ${k}=`), Buffer.isBuffer(v) ? v : Buffer.from(v), Buffer.from('\n')]);
    let len = body.length + 1;
    while (String(len).length + body.length !== len) len = String(len).length + body.length;
    parts.push(Buffer.concat([Buffer.from(String(len)), body]));
  }
  return Buffer.concat(parts);
}

/** A tar archive (with the two zero end blocks) from raw entries. */
export function makeTar(entries: RawEntry[]): Buffer {
  const out: Buffer[] = [];
  for (const e of entries) {
    if (e.pax) {
      const data = paxData(e.pax);
      out.push(
        header({ name: 'PaxHeader', type: 'x', mode: 0o644, uid: 0, gid: 0, size: data.length, mtime: 0, linkname: '', devmajor: 0, devminor: 0 }),
        data,
        pad(data.length),
      );
    }
    const data = e.data === undefined ? Buffer.alloc(0) : Buffer.isBuffer(e.data) ? e.data : Buffer.from(e.data);
    const type = e.type ?? '0';
    out.push(
      header(
        {
          name: e.name.length > 100 ? e.name.slice(0, 100) : e.name,
          type,
          mode: e.mode ?? (type === '5' ? 0o755 : 0o644),
          uid: e.uid ?? 0,
          gid: e.gid ?? 0,
          size: type === '0' ? data.length : 0,
          mtime: e.mtime ?? 1_600_000_000,
          linkname: e.linkname ?? '',
          devmajor: e.devmajor ?? 0,
          devminor: e.devminor ?? 0,
        },
        e.badChecksum,
      ),
    );
    if (type === '0') out.push(data, pad(data.length));
  }
  out.push(Buffer.alloc(1024));
  return Buffer.concat(out);
}

/** A stream that yields `buf` in small pieces (exercises chunk boundaries). */
export function streamOf(buf: Buffer, piece = 777): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += piece) parts.push(buf.subarray(i, i + piece));
  return Readable.from(parts);
}

export const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export function tmpDir(prefix = 'gantry-diff-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface NodeInfo {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtimeMs: number;
  ino: number;
  link?: string;
  hash?: string;
  rdev?: number;
}

/** Every path under `root` (relative) with its lstat facts and content hash; symlinks not followed. */
export function snapshotTree(root: string, skip: (rel: string) => boolean = () => false): Map<string, NodeInfo> {
  const out = new Map<string, NodeInfo>();
  const visit = (rel: string) => {
    const abs = rel === '' ? root : path.join(root, rel);
    const st = fs.lstatSync(abs);
    const type = st.isDirectory()
      ? 'dir'
      : st.isFile()
        ? 'file'
        : st.isSymbolicLink()
          ? 'symlink'
          : st.isCharacterDevice()
            ? 'chr'
            : st.isBlockDevice()
              ? 'blk'
              : st.isFIFO()
                ? 'fifo'
                : 'other';
    const info: NodeInfo = {
      type,
      mode: st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      size: type === 'dir' ? 0 : st.size,
      mtimeMs: Math.floor(st.mtimeMs / 1000) * 1000,
      ino: st.ino,
    };
    if (type === 'symlink') info.link = fs.readlinkSync(abs);
    if (type === 'file') info.hash = sha256(fs.readFileSync(abs));
    if (type === 'chr' || type === 'blk') info.rdev = st.rdev;
    out.set(rel === '' ? '.' : rel, info);
    if (type === 'dir') for (const n of fs.readdirSync(abs).sort()) if (!skip(path.join(rel, n))) visit(path.join(rel, n));
  };
  visit('');
  return out;
}

/** Snapshots compared without inode numbers (and optionally without the root's own entry). */
export function comparable(snap: Map<string, NodeInfo>, opts: { rootMeta?: boolean; dirTimes?: boolean } = {}): Record<string, Omit<NodeInfo, 'ino'>> {
  const out: Record<string, Omit<NodeInfo, 'ino'>> = {};
  for (const [k, v] of snap) {
    const { ino: _ino, ...rest } = v;
    if (k === '.' && opts.rootMeta === false) continue;
    if (v.type === 'dir' && opts.dirTimes === false) rest.mtimeMs = 0;
    out[k] = rest;
  }
  return out;
}

export function sh(cmd: string, args: string[], opts: { cwd?: string; input?: Buffer } = {}): string {
  return execFileSync(cmd, args, { cwd: opts.cwd, input: opts.input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
}

export async function collect(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

export { isRoot } from '@gantry/testkit';
