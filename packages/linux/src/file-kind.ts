import { S_IF } from './constants';
import type { FileKind } from './sys';

const S_IFMT = 0o170000;

/** The kind of file an st_mode names (Node's fs.Stats mode, statx's stx_mode). */
export function fileKindOfMode(mode: number): FileKind['kind'] {
  switch (mode & S_IFMT) {
    case S_IF.REG:
      return 'file';
    case S_IF.DIR:
      return 'dir';
    case S_IF.LNK:
      return 'symlink';
    case S_IF.CHR:
      return 'chr';
    case S_IF.BLK:
      return 'blk';
    case S_IF.FIFO:
      return 'fifo';
    case S_IF.SOCK:
      return 'socket';
    default:
      return 'other';
  }
}
