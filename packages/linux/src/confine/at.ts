/**
 * Work on the entries below a directory fd, one name at a time: the name is a single component
 * and the last one is never followed, so with a directory fd that was resolved inside a root
 * (`openInRoot`, `mkdirAllInRoot`) nothing here can act outside it.
 */
import { AT, O } from '../constants';
import { SysError } from '../errors';
import type { Sys } from '../sys';
import { openInRoot } from './in-root';

const ENOENT = 2;
const EFBIG = 27;
const EINVAL = 22;

/** A single path component: no "/", not "." or "..", not empty. */
export function isPlainName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0');
}

function plain(op: string, name: string): void {
  if (!isPlainName(name)) throw new SysError(op, EINVAL, `not a single path component: ${JSON.stringify(name)}`);
}

/**
 * rm -rf of `name` below `dirFd`: a symlink is removed itself, a directory is emptied by fd first.
 * A name that does not exist is no error.
 */
export function removeAllAt(sys: Sys, dirFd: number, name: string): void {
  plain('unlinkat', name);
  const st = sys.fstatat(dirFd, name);
  if (!st) return;
  if (st.kind !== 'dir') {
    ignoreMissing(() => sys.unlinkat(dirFd, name, 0));
    return;
  }
  let fd: number;
  try {
    fd = sys.openat(dirFd, name, O.PATH | O.DIRECTORY | O.NOFOLLOW | O.CLOEXEC);
  } catch (e) {
    // replaced by something else meanwhile: remove whatever it is now
    if (e instanceof SysError && (e.errno === ENOENT || e.code === 'ENOTDIR' || e.code === 'ELOOP')) return removeAllAt(sys, dirFd, name);
    throw e;
  }
  try {
    for (const child of sys.readdirFd(fd)) removeAllAt(sys, fd, child);
  } finally {
    sys.close(fd);
  }
  ignoreMissing(() => sys.unlinkat(dirFd, name, AT.REMOVEDIR));
}

function ignoreMissing(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof SysError) || e.errno !== ENOENT) throw e;
  }
}

/** Read below this size in one go; `readFileInRoot` refuses more than its `maxBytes`. */
const CHUNK = 64 << 10;

/**
 * The content of the regular file `p` inside the root (symlinks followed inside it), or undefined
 * when there is none. Anything else there (a FIFO, a device such as /dev/zero, a directory) and a
 * file larger than `maxBytes` is refused: an image's /etc/passwd is data we parse, not a stream
 * we wait on.
 */
export function readFileInRoot(sys: Sys, rootFd: number, p: string, maxBytes = 16 << 20): Buffer | undefined {
  let fd: number;
  try {
    // O_PATH first: opening a FIFO or a device for reading could block or have effects
    fd = openInRoot(sys, rootFd, p, O.PATH);
  } catch (e) {
    if (e instanceof SysError && (e.errno === ENOENT || e.code === 'ENOTDIR')) return undefined;
    throw e;
  }
  try {
    const kind = sys.fstat(fd).kind;
    if (kind !== 'file') throw new SysError('open', EINVAL, `${p} is a ${kind}, not a regular file`);
    // the magic link names exactly the file found above, whatever happened to its name since
    const rd = sys.open(`/proc/self/fd/${fd}`, O.RDONLY | O.CLOEXEC);
    try {
      const chunks: Buffer[] = [];
      let total = 0;
      for (;;) {
        const b = sys.read(rd, CHUNK);
        if (b.length === 0) break;
        total += b.length;
        if (total > maxBytes) throw new SysError('read', EFBIG, `${p} is larger than ${maxBytes} bytes`);
        chunks.push(b);
      }
      return Buffer.concat(chunks);
    } finally {
      sys.close(rd);
    }
  } finally {
    sys.close(fd);
  }
}
