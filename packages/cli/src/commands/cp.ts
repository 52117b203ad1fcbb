/**
 * `gantry cp`: files between a container and here, either way, or a tar on stdin/stdout with `-`.
 * The local side is packed and unpacked by the system's GNU tar (the daemon speaks tar already);
 * a destination that is not an existing directory is the copy's new name, as docker's. When stdout
 * is a terminal (and without -q) docker ends with `Successfully copied <tar size> to <dest>` on
 * stderr; so does this.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import type { CliContext } from '../context';
import { CliError } from '../errors';
import { humanSizeWithPrecision } from '@gantry/format';

interface CpOptions {
  archive?: boolean;
  followLink?: boolean;
  quiet?: boolean;
}

/** `CONTAINER:PATH` (a local path with a colon must start with / or .), else a local path. */
export function splitCpArg(arg: string): { container?: string; path: string } {
  if (arg.startsWith('/') || arg.startsWith('.')) return { path: arg };
  const i = arg.indexOf(':');
  if (i <= 0) return { path: arg };
  return { container: arg.slice(0, i), path: arg.slice(i + 1) };
}

function tar(args: string[], input?: Readable): { done: Promise<void>; stdout: Readable } {
  const child = spawn('tar', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  if (input !== undefined) void pipeline(input, child.stdin).catch(() => undefined);
  else child.stdin.end();
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', (e) => reject(new CliError(`tar: ${e.message}`, 1)));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new CliError(err.trim() || `tar exited with status ${code}`, 1))));
  });
  return { done, stdout: child.stdout };
}

/** A stream passed through unchanged, its bytes counted (what docker reports as copied: the tar's size). */
function counted(input: Readable, total: { bytes: number }): Readable {
  const through = new PassThrough();
  input.on('data', (chunk: Buffer) => (total.bytes += chunk.length));
  input.on('error', (e) => through.destroy(e));
  input.pipe(through);
  return through;
}

/** docker's closing line: only when stdout is a terminal, the size with 3 significant digits. */
export function copiedLine(bytes: number, dest: string): string {
  return `Successfully copied ${humanSizeWithPrecision(bytes, 3)} to ${dest}\n`;
}

function lstatOrUndefined(p: string): fs.Stats | undefined {
  try {
    return fs.statSync(p);
  } catch {
    return undefined;
  }
}

async function fromContainer(ctx: CliContext, container: string, src: string, dest: string, o: CpOptions, total: { bytes: number }): Promise<void> {
  const client = ctx.client();
  let srcPath = src;
  if (o.followLink === true) {
    const st = await client.containers.statPath(container, src);
    if (st.linkTarget !== '') srcPath = st.linkTarget;
  }
  const archive = await client.containers.getArchive(container, srcPath);
  const stat = archive.stat;
  if (dest === '-') {
    const stream = archive.stream;
    for await (const chunk of stream) ctx.stdout.write(chunk as Buffer);
    return;
  }
  const stream = counted(archive.stream, total);
  const owner = o.archive === true ? ['--same-owner'] : ['--no-same-owner'];
  const existing = lstatOrUndefined(dest);
  if (existing?.isDirectory() === true && !src.endsWith('/.')) {
    const t = tar(['-x', ...owner, '-C', dest], stream);
    await t.done;
    return;
  }
  const parent = path.dirname(path.resolve(dest));
  if (lstatOrUndefined(parent)?.isDirectory() !== true) throw new CliError(`invalid output path: directory ${JSON.stringify(parent)} does not exist`, 1);
  // unpacked beside the destination, then moved into place under its new name
  const tmp = fs.mkdtempSync(path.join(parent, '.gantry-cp-'));
  try {
    await tar(['-x', ...owner, '-C', tmp], stream).done;
    const unpacked = path.join(tmp, stat.name);
    if (src.endsWith('/.') && existing?.isDirectory() === true) {
      for (const e of fs.readdirSync(unpacked)) fs.renameSync(path.join(unpacked, e), path.join(dest, e));
    } else {
      if (existing !== undefined && existing.isDirectory() !== lstatOrUndefined(unpacked)?.isDirectory()) {
        throw new CliError(`cannot copy ${existing.isDirectory() ? 'a file to a directory' : 'a directory to a file'}`, 1);
      }
      fs.rmSync(dest, { recursive: true, force: true });
      fs.renameSync(unpacked, dest);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

async function toContainer(ctx: CliContext, src: string, container: string, dest: string, o: CpOptions, total: { bytes: number }): Promise<void> {
  const client = ctx.client();
  if (src === '-') {
    const stdin = ctx.stdin;
    if (stdin === undefined) throw new CliError('no standard input', 1);
    await client.containers.putArchive(container, dest, stdin as Readable, { noOverwriteDirNonDir: true, copyUIDGID: o.archive });
    return;
  }
  const local = path.resolve(src);
  try {
    fs.lstatSync(local);
  } catch {
    throw new CliError(`lstat ${local}: no such file or directory`, 1);
  }
  let target = dest;
  let name = path.basename(local);
  // Go's os.ModeDir is bit 31 of the stat's mode; a path that is not there is a new name
  const isDir = await client.containers.statPath(container, dest).then(
    (st) => Math.floor(st.mode / 2 ** 31) % 2 === 1,
    () => false,
  );
  if (!isDir) {
    target = path.posix.dirname(dest);
    name = path.posix.basename(dest);
  }
  const base = path.basename(local);
  const args = [
    '-c',
    // 512-byte records, no padding to tar's default 10 KiB: the archive (and the size reported) as docker's
    '-b',
    '1',
    '-C',
    path.dirname(local),
    ...(o.followLink === true ? ['-h'] : []),
    ...(o.archive === true ? [] : ['--owner=0', '--group=0', '--numeric-owner']),
  ];
  if (name !== base) args.push(`--transform=s|^${base.replace(/[|\\^$.*[\]]/g, '\\$&')}|${name.replace(/[|\\&]/g, '\\$&')}|`);
  args.push(base);
  const t = tar(args);
  await Promise.all([client.containers.putArchive(container, target, counted(t.stdout, total), { noOverwriteDirNonDir: true, copyUIDGID: o.archive }), t.done]);
}

export function cpCommand(program: Command, ctx: CliContext): void {
  program
    .command('cp')
    .description('Copy files/folders between a container and the local filesystem')
    .usage('[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tgantry cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH')
    .argument('<SRC>')
    .argument('<DEST>')
    .option('-a, --archive', 'Archive mode (copy all uid/gid information)')
    .option('-L, --follow-link', 'Always follow symbol link in SRC_PATH')
    .option('-q, --quiet', 'Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached')
    .action(async (srcArg: string, destArg: string, o: CpOptions) => {
      const src = splitCpArg(srcArg);
      const dest = splitCpArg(destArg);
      if (src.container !== undefined && dest.container !== undefined) throw new CliError('copying between containers is not supported', 1);
      if (src.container === undefined && dest.container === undefined) throw new CliError('must specify at least one container source', 1);
      const total = { bytes: 0 };
      const report = o.quiet !== true && (ctx.stdout as { isTTY?: boolean }).isTTY === true;
      if (src.container !== undefined) {
        if (src.path === '') throw new CliError('filesystem path cannot be empty', 1);
        await fromContainer(ctx, src.container, src.path, dest.path, o, total);
        // a tar written to stdout is not reported
        if (report && dest.path !== '-') ctx.stderr.write(copiedLine(total.bytes, dest.path));
      } else if (dest.container !== undefined) {
        if (dest.path === '') throw new CliError('filesystem path cannot be empty', 1);
        await toContainer(ctx, src.path, dest.container, dest.path, o, total);
        // from stdin docker counts nothing and says 0B
        if (report) ctx.stderr.write(copiedLine(total.bytes, destArg));
      }
    });
}
