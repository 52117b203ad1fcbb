/**
 * The build context: the request body (a tar, possibly gzipped) spooled, every member name
 * checked (a ".." out of the context or a hard link out of it is a build error before anything
 * is written), then extracted by file descriptor into a fresh directory under the data root
 * that `dispose` removes. Files are read back out of it by fd too (`open`), so a symlink in the
 * context leads nowhere outside it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import type { IgnoreMatcher } from '@gantry/dockerfile';
import { childNames, errdefs, linuxSys, O, openInRoot, openRoot, removeAllAt, SysError, type Sys } from '@gantry/linux';
import { checkArchive, extractArchive, spool } from '../containers/archive';
import { tempPath } from '../images/archive';

export class BuildContext {
  private constructor(
    readonly sys: Sys,
    /** The extracted context (a host directory only gantryd writes). */
    readonly dir: string,
    /** The context's root, O_PATH: everything in it is opened below this fd. */
    readonly rootFd: number,
  ) {}

  static async receive(dataRoot: string, body: Readable): Promise<BuildContext> {
    const sys = linuxSys();
    const file = tempPath(dataRoot, 'build-context');
    const dir = tempPath(dataRoot, 'build');
    fs.mkdirSync(dir, { mode: 0o700 });
    try {
      await spool(body, file);
      await checkArchive(file).catch((e: unknown) => {
        throw errdefs.invalidArgument(`the build context is not a valid tar archive: ${(e as Error).message}`);
      });
      const rootFd = openRoot(sys, dir);
      try {
        await extractArchive(sys, file, rootFd, '/', { noOverwriteDirNonDir: false });
      } catch (e) {
        sys.close(rootFd);
        throw e;
      }
      return new BuildContext(sys, dir, rootFd);
    } catch (e) {
      fs.rmSync(dir, { recursive: true, force: true });
      throw e;
    } finally {
      fs.rmSync(file, { force: true });
    }
  }

  /** A file of the context as text (the Dockerfile, .dockerignore), or undefined when absent. */
  readText(rel: string, limit = 4 * 1024 * 1024): string | undefined {
    let fd: number;
    try {
      fd = openInRoot(this.sys, this.rootFd, path.posix.join('/', rel), O.RDONLY);
    } catch (e) {
      if (e instanceof SysError && (e.code === 'ENOENT' || e.code === 'ENOTDIR')) return undefined;
      throw e;
    }
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile()) return undefined;
      if (st.size > limit) throw errdefs.invalidArgument(`${rel} is larger than ${limit} bytes`);
      return fs.readFileSync(fd, 'utf8');
    } finally {
      fs.closeSync(fd);
    }
  }

  /**
   * Remove what .dockerignore excludes (by fd: each directory opened inside the context, entries
   * removed below it without following them). An excluded directory an exception may re-include
   * from is walked instead of removed.
   */
  exclude(excluded: IgnoreMatcher, dir = ''): void {
    const fd = openInRoot(this.sys, this.rootFd, `/${dir}`, O.RDONLY | O.DIRECTORY, { followLast: false });
    try {
      for (const name of childNames(this.sys, fd)) {
        const rel = dir ? `${dir}/${name}` : name;
        const isDir = this.sys.fstatat(fd, name)?.kind === 'dir';
        if (excluded(rel)) {
          if (isDir && excluded.mustWalk(rel)) this.exclude(excluded, rel);
          else removeAllAt(this.sys, fd, name);
        } else if (isDir) this.exclude(excluded, rel);
      }
    } finally {
      this.sys.close(fd);
    }
  }

  dispose(): void {
    this.sys.close(this.rootFd);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
