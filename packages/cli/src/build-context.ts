/**
 * The build context as the docker CLI sends it: the directory as a tar, without what
 * .dockerignore excludes (the Dockerfile and .dockerignore themselves are always sent, as
 * docker's TrimBuildFilesFromExcludes keeps them), with a Dockerfile from stdin added under a
 * name of its own.
 */
import * as fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { compileDockerignore, type IgnoreMatcher } from '@gantry/dockerfile';
import { CliError } from './errors';
import { END_OF_ARCHIVE, padding, tarHeader } from './tar-writer';

interface ContextOptions {
  /** The Dockerfile's path relative to the context (always sent). */
  dockerfile: string;
  /** A Dockerfile's text to add (from stdin): sent as `name`. */
  extra?: { name: string; content: Buffer };
}

/** A name for a Dockerfile read from stdin, as docker names it (`.dockerfile.<random>`). */
export function stdinDockerfileName(): string {
  return `.dockerfile.${randomBytes(10).toString('hex')}`;
}

function matcherOf(dir: string): IgnoreMatcher | undefined {
  try {
    return compileDockerignore(fs.readFileSync(join(dir, '.dockerignore'), 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CliError(`error checking context: ${(e as Error).message}`, 1);
  }
}

/** The paths a context sends, sorted as docker walks them (lexically, directories before their content). */
function contextPaths(dir: string, keep: readonly string[]): string[] {
  const ignore = matcherOf(dir);
  const out: string[] = [];
  const walk = (rel: string): void => {
    const names = fs.readdirSync(rel === '' ? dir : join(dir, rel)).sort();
    for (const name of names) {
      const p = rel === '' ? name : `${rel}/${name}`;
      const st = fs.lstatSync(join(dir, p));
      const excluded = ignore !== undefined && ignore(p) && !keep.includes(p);
      if (!excluded) out.push(p);
      if (st.isDirectory() && (!excluded || ignore?.mustWalk(p) === true)) walk(p);
    }
  };
  walk('');
  return out;
}

/** The context directory as tar chunks. */
export async function* contextTar(dir: string, o: ContextOptions): AsyncGenerator<Buffer> {
  if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new CliError(`unable to prepare context: path "${dir}" not found`, 1);
  for (const p of contextPaths(dir, [o.dockerfile, '.dockerignore'])) {
    const full = join(dir, p);
    const st = fs.lstatSync(full);
    const mtime = Math.floor(st.mtimeMs / 1000);
    if (st.isDirectory()) yield tarHeader({ name: p, type: 'dir', mode: st.mode, mtime });
    else if (st.isSymbolicLink()) yield tarHeader({ name: p, type: 'symlink', mode: st.mode, mtime, linkname: fs.readlinkSync(full) });
    else if (st.isFile()) {
      yield tarHeader({ name: p, type: 'file', mode: st.mode, mtime, size: st.size });
      let sent = 0;
      for await (const chunk of fs.createReadStream(full)) {
        const b = chunk as Buffer;
        sent += b.length;
        yield b;
      }
      if (sent !== st.size) throw new CliError(`${p} changed while the context was sent`, 1);
      yield padding(st.size);
    }
  }
  if (o.extra !== undefined) {
    yield tarHeader({ name: o.extra.name, type: 'file', mode: 0o600, mtime: Math.floor(Date.now() / 1000), size: o.extra.content.length });
    yield o.extra.content;
    yield padding(o.extra.content.length);
  }
  yield END_OF_ARCHIVE;
}

/** A context of one Dockerfile (`gantry build -` with a Dockerfile on stdin). */
export function dockerfileOnlyTar(content: Buffer): Buffer {
  const now = Math.floor(Date.now() / 1000);
  return Buffer.concat([
    tarHeader({ name: 'Dockerfile', type: 'file', mode: 0o600, mtime: now, size: content.length }),
    content,
    padding(content.length),
    END_OF_ARCHIVE,
  ]);
}
