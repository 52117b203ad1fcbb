import { MS } from '@gantry/linux';

/** Driver options the `local` driver understands (`--opt type=tmpfs --opt device=tmpfs --opt o=size=64m`). */
const VALID = new Set(['type', 'o', 'device', 'size']);
/** An option that needs others beside it. */
const REQUIRES: Record<string, string[]> = { type: ['device'], device: ['type'], o: ['type', 'device'] };

/** Docker's checks of local driver options; throws Error with Docker's message. */
export function validateLocalOptions(opts: Record<string, string> | null | undefined): void {
  if (!opts) return;
  for (const k of Object.keys(opts)) if (!VALID.has(k)) throw new Error(`invalid option: ${JSON.stringify(k)}`);
  if ('size' in opts) throw new Error('quota size requested but no quota support');
  for (const [k, needs] of Object.entries(REQUIRES)) {
    if (!(k in opts)) continue;
    for (const n of needs) if (!(n in opts)) throw new Error(`missing required option: ${JSON.stringify(n)}`);
  }
}

/** True when the volume's data is a mount (made on first use) rather than a plain directory. */
export function needsMount(opts: Record<string, string> | null | undefined): boolean {
  return !!opts && !!opts.device && !!opts.type;
}

const FLAG_SET: Record<string, number> = {
  ro: MS.RDONLY,
  nosuid: MS.NOSUID,
  nodev: MS.NODEV,
  noexec: MS.NOEXEC,
  sync: MS.SYNCHRONOUS,
  dirsync: MS.DIRSYNC,
  mand: MS.MANDLOCK,
  noatime: MS.NOATIME,
  nodiratime: MS.NODIRATIME,
  relatime: MS.RELATIME,
  strictatime: MS.STRICTATIME,
  bind: MS.BIND,
  rbind: MS.BIND | MS.REC,
  remount: MS.REMOUNT,
};
const FLAG_CLEAR: Record<string, number> = {
  rw: MS.RDONLY,
  suid: MS.NOSUID,
  dev: MS.NODEV,
  exec: MS.NOEXEC,
  async: MS.SYNCHRONOUS,
  nomand: MS.MANDLOCK,
  atime: MS.NOATIME,
  diratime: MS.NODIRATIME,
  norelatime: MS.RELATIME,
};

/** mount(8)-style `o=` words split into mount(2) flags and the filesystem's data string. */
export function parseMountOptions(o: string | undefined): { flags: number; data: string } {
  let flags = 0;
  const data: string[] = [];
  for (const word of (o ?? '').split(',')) {
    if (word === '' || word === 'defaults') continue;
    if (word in FLAG_SET) flags |= FLAG_SET[word]!;
    else if (word in FLAG_CLEAR) flags &= ~FLAG_CLEAR[word]!;
    else data.push(word);
  }
  return { flags, data: data.join(',') };
}

/** The mount(2) calls that put a local volume's device on its data directory. */
export function localMountCalls(opts: Record<string, string>, target: string): { source: string; target: string; fstype: string | null; flags: number; data: string | null }[] {
  const { flags, data } = parseMountOptions(opts.o);
  const isBind = (flags & MS.BIND) !== 0;
  const calls = [{ source: opts.device!, target, fstype: isBind ? null : opts.type!, flags: isBind ? flags & ~MS.RDONLY : flags, data: data || null }];
  // a bind mount ignores MS_RDONLY on the first call: read-only takes a remount
  if (isBind && flags & MS.RDONLY) calls.push({ source: opts.device!, target, fstype: null, flags: MS.BIND | MS.REMOUNT | MS.RDONLY, data: null });
  return calls;
}
