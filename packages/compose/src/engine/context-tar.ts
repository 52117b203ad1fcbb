/**
 * A build context as an uncompressed ustar archive (regular files, directories, symlinks), sent
 * whole to `POST /build`. `.dockerignore` lines that name a path (or a `dir/*` glob) are left out;
 * longer patterns are not interpreted here.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ComposeError } from '../errors';

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

function header(name: string, type: '0' | '2' | '5', size: number, mode: number, mtime: number, linkname = ''): Buffer {
  const h = Buffer.alloc(512);
  let prefix = '';
  let base = name;
  if (Buffer.byteLength(name) > 100) {
    const cut = name.lastIndexOf('/', 155);
    prefix = name.slice(0, cut);
    base = name.slice(cut + 1);
    if (cut < 0 || Buffer.byteLength(base) > 100 || Buffer.byteLength(prefix) > 155)
      throw new ComposeError(`build context: path too long for the archive: ${name}`);
  }
  h.write(base, 0, 100);
  h.write(octal(mode & 0o7777, 8), 100);
  h.write(octal(0, 8), 108);
  h.write(octal(0, 8), 116);
  h.write(octal(size, 12), 124);
  h.write(octal(Math.floor(mtime), 12), 136);
  h.write('        ', 148);
  h.write(type, 156);
  h.write(linkname, 157, 100);
  h.write('ustar\0', 257);
  h.write('00', 263);
  h.write(prefix, 345, 155);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  return h;
}

function ignored(rel: string, patterns: string[]): boolean {
  return patterns.some((p) => rel === p || rel.startsWith(`${p}/`) || (p.endsWith('/*') && path.dirname(rel) === p.slice(0, -2)));
}

export function contextTar(dir: string): Buffer {
  const ignoreFile = path.join(dir, '.dockerignore');
  const patterns = fs.existsSync(ignoreFile)
    ? fs
        .readFileSync(ignoreFile, 'utf8')
        .split('\n')
        .map((l) => l.trim().replace(/^\/+|\/+$/g, ''))
        .filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith('!'))
    : [];
  const parts: Buffer[] = [];
  const walk = (rel: string): void => {
    for (const entry of fs.readdirSync(path.join(dir, rel)).sort()) {
      const r = rel === '' ? entry : `${rel}/${entry}`;
      if (ignored(r, patterns)) continue;
      const full = path.join(dir, r);
      const st = fs.lstatSync(full);
      if (st.isDirectory()) {
        parts.push(header(`${r}/`, '5', 0, st.mode, st.mtimeMs / 1000));
        walk(r);
      } else if (st.isSymbolicLink()) parts.push(header(r, '2', 0, st.mode, st.mtimeMs / 1000, fs.readlinkSync(full)));
      else if (st.isFile()) {
        const data = fs.readFileSync(full);
        parts.push(header(r, '0', data.length, st.mode, st.mtimeMs / 1000), data, Buffer.alloc((512 - (data.length % 512)) % 512));
      }
    }
  };
  if (!fs.existsSync(dir)) throw new ComposeError(`build context ${dir} does not exist`);
  walk('');
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}
