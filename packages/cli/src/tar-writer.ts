/**
 * A small tar writer for build contexts: ustar headers, a PAX record for a name or link target
 * that does not fit, owner 0:0 (as the docker CLI sends a context). Regular files, directories
 * and symlinks only: what a context directory holds and the daemon reads.
 */

interface TarEntry {
  name: string;
  type: 'file' | 'dir' | 'symlink';
  mode: number;
  mtime: number;
  size?: number;
  linkname?: string;
}

const BLOCK = 512;

function octal(buf: Buffer, off: number, len: number, v: number): void {
  buf.write(v.toString(8).padStart(len - 1, '0') + '\0', off, len, 'ascii');
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

function header(name: string, typeflag: string, mode: number, size: number, mtime: number, linkname: string): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, 'utf8');
  octal(h, 100, 8, mode & 0o7777);
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  octal(h, 124, 12, size);
  octal(h, 136, 12, Math.max(0, Math.floor(mtime)));
  h.fill(' ', 148, 156);
  h.write(typeflag, 156, 1, 'ascii');
  h.write(linkname, 157, 100, 'utf8');
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return h;
}

export function padding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

/** The header block(s) of one entry; its data (for a file) and padding follow. */
export function tarHeader(e: TarEntry): Buffer {
  const name = e.type === 'dir' && !e.name.endsWith('/') ? `${e.name}/` : e.name;
  const link = e.linkname ?? '';
  const flag = e.type === 'file' ? '0' : e.type === 'dir' ? '5' : '2';
  const size = e.type === 'file' ? (e.size ?? 0) : 0;
  const records = (Buffer.byteLength(name) > 100 ? paxRecord('path', name) : '') + (Buffer.byteLength(link) > 100 ? paxRecord('linkpath', link) : '');
  const main = header(Buffer.from(name).subarray(0, 100).toString('utf8'), flag, e.mode, size, e.mtime, Buffer.from(link).subarray(0, 100).toString('utf8'));
  if (records === '') return main;
  const pax = Buffer.from(records);
  return Buffer.concat([header('PaxHeader', 'x', 0o644, pax.length, e.mtime, ''), pax, padding(pax.length), main]);
}

export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);
