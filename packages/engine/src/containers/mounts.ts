import * as path from 'node:path/posix';
import { mountFlagWord } from '@gantry/linux';
import type { Mount as OciMount } from '@gantry/runtime';
import type { Mount, TmpfsOptions } from '@gantry/engine-api';

/** A mount Docker-side, before it becomes an OCI mount (Docker's `container.Mount`). */
export interface UserMount {
  destination: string;
  /** Host path for binds, `tmpfs` for tmpfs, '' for a volume until it is resolved. */
  source: string;
  kind: 'bind' | 'tmpfs' | 'volume';
  writable: boolean;
  /** bind: propagation mode (default rprivate). */
  propagation?: string;
  /** bind: non-recursive (`bind` instead of `rbind`). */
  nonRecursive?: boolean;
  /** bind: read-only is not applied recursively. */
  readOnlyNonRecursive?: boolean;
  readOnlyForceRecursive?: boolean;
  /** tmpfs: the options string (`"size=64m,mode=1777"`). */
  data?: string;
  /** volume: its name ('' for an anonymous volume). */
  name?: string;
  /** volume: copy the image's content at the destination into it when it is empty. */
  copyData?: boolean;
  /** volume: driver, options and labels for creating it (`--mount` VolumeOptions). */
  volumeCreate?: { driver?: string; options?: Record<string, string>; labels?: Record<string, string> };
  /** The `Mode` `docker inspect` shows (the options of a `-v`). */
  mode?: string;
  /** bind: from `-v` (HostConfig.Binds): a missing host path is created at start. */
  fromBinds?: boolean;
  /** bind: BindOptions.CreateMountpoint. */
  createMountpoint?: boolean;
}

const PROPAGATION_MODES: ReadonlySet<string> = new Set(['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave']);
const RW_MODES = new Set(['rw', 'ro']);
const LABEL_MODES = new Set(['z', 'Z']);
const COPY_MODES = new Set(['nocopy']);
const CONSISTENCY_MODES = new Set(['consistent', 'cached', 'delegated']);

/** Docker's check of a bind's `[:options]` part: known words, at most one of each kind. */
function validMountMode(mode: string): boolean {
  if (mode === '') return true;
  const counts = [0, 0, 0, 0, 0];
  for (const o of mode.split(',')) {
    if (RW_MODES.has(o)) counts[0]!++;
    else if (LABEL_MODES.has(o)) counts[1]!++;
    else if (PROPAGATION_MODES.has(o)) counts[2]!++;
    else if (COPY_MODES.has(o)) counts[3]!++;
    else if (CONSISTENCY_MODES.has(o)) counts[4]!++;
    else return false;
  }
  return counts.every((n) => n <= 1);
}

/** Target checks shared by Binds, Mounts and Tmpfs (Docker's wording). */
export function checkTarget(target: string): void {
  if (path.normalize(target.replace(/\\/g, '/')) === '/') throw new Error("invalid specification: destination can't be '/'");
  if (!path.isAbsolute(target.replace(/\\/g, '/'))) throw new Error(`invalid mount path: '${target}' mount path must be absolute`);
}

/** A cleaned absolute path, as Go's path.Clean (no trailing slash). */
export function cleanPath(p: string): string {
  const n = path.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

/**
 * One `HostConfig.Binds` entry, `src:dst[:mode]`: a host path (bind), a name (named volume) or a
 * lone destination (anonymous volume). Throws Error with Docker's message; the caller turns it
 * into a 400.
 */
export function parseBind(raw: string): UserMount {
  const invalid = () => new Error(`invalid volume specification: '${raw}'`);
  const parts = raw.split(':');
  // Go's SplitN(raw, ":", 4): a fourth part keeps any further colons
  const arr = parts.length > 4 ? [...parts.slice(0, 3), parts.slice(3).join(':')] : parts;
  if (arr[0] === '') throw invalid();
  let source = '';
  let target: string;
  let mode = '';
  switch (arr.length) {
    case 1:
      target = arr[0]!;
      break;
    case 2:
      // "/foo:rw" is a destination with a mode, which a volume cannot have
      if (validMountMode(arr[1]!)) throw invalid();
      source = arr[0]!;
      target = arr[1]!;
      break;
    case 3:
      source = arr[0]!;
      target = arr[1]!;
      mode = arr[2]!;
      break;
    default:
      throw invalid();
  }
  if (!validMountMode(mode)) throw new Error(`invalid mode: ${mode}`);
  const isVolume = !path.isAbsolute(source);
  const kind = isVolume ? 'volume' : 'bind';
  if (target === '') throw new Error(`invalid volume specification: '${raw}': invalid mount config for type "${kind}": field Target must not be empty`);
  try {
    checkTarget(target);
  } catch (e) {
    throw new Error(`invalid volume specification: '${raw}': invalid mount config for type "${kind}": ${(e as Error).message}`, { cause: e });
  }
  const opts = mode === '' ? [] : mode.split(',');
  if (isVolume) {
    if (opts.some((o) => PROPAGATION_MODES.has(o)))
      throw new Error(`invalid volume specification: '${raw}': invalid mount config for type "volume": propagation modes are not supported for volumes`);
    return {
      destination: cleanPath(target),
      source: '',
      kind: 'volume',
      name: source,
      writable: !opts.includes('ro'),
      copyData: !opts.includes('nocopy'),
      // dockerd shows a named volume's default mode as "z"
      mode: mode === '' && source !== '' ? 'z' : mode,
    };
  }
  const propagation = opts.find((o) => PROPAGATION_MODES.has(o)) ?? 'rprivate';
  return {
    destination: cleanPath(target),
    source: cleanPath(source),
    kind: 'bind',
    writable: !opts.includes('ro'),
    propagation,
    mode,
    fromBinds: true,
  };
}

/** Docker's rendering of TmpfsOptions as a tmpfs options string (size with the largest exact suffix, mode in octal). */
function tmpfsOptionsString(opt: TmpfsOptions | undefined, readOnly: boolean): string {
  const raw: string[] = [];
  if (readOnly) raw.push('ro');
  if (opt?.Mode) raw.push(`mode=${opt.Mode.toString(8)}`);
  if (opt?.SizeBytes) {
    let size = opt.SizeBytes;
    let suffix = '';
    for (const [s, d] of [
      ['g', 2 ** 30],
      ['m', 2 ** 20],
      ['k', 2 ** 10],
    ] as const) {
      if (size % d === 0) {
        size /= d;
        suffix = s;
        break;
      }
    }
    raw.push(`size=${size}${suffix}`);
  }
  for (const o of opt?.Options ?? []) {
    if (o.length === 1) raw.push(o[0]!);
    else if (o.length === 2) raw.push(`${o[0]}=${o[1]}`);
    else throw new Error(`invalid tmpfs option ${JSON.stringify(o)}`);
  }
  return raw.join(',');
}

/** One entry of `HostConfig.Mounts` (bind or tmpfs), checked as Docker does (except that a bind source exists). */
export function parseMountSpec(m: Mount): UserMount {
  const fail = (msg: string) => new Error(`invalid mount config for type "${m.Type ?? ''}": ${msg}`);
  if (!m.Target) throw fail('field Target must not be empty');
  try {
    checkTarget(m.Target);
  } catch (e) {
    throw fail((e as Error).message);
  }
  const destination = cleanPath(m.Target);
  switch (m.Type) {
    case 'bind': {
      if (!m.Source) throw fail('field Source must not be empty');
      const prop = m.BindOptions?.Propagation;
      if (prop && !PROPAGATION_MODES.has(prop)) throw fail(`invalid propagation mode: ${prop}`);
      if (m.VolumeOptions) throw fail('field VolumeOptions must not be specified');
      if (m.TmpfsOptions) throw fail('field TmpfsOptions must not be specified');
      if (!path.isAbsolute(m.Source)) throw fail(`invalid mount path: '${m.Source}' mount path must be absolute`);
      if (m.BindOptions?.ReadOnlyNonRecursive && m.BindOptions.ReadOnlyForceRecursive) {
        throw fail('mount options conflict: ReadOnlyNonRecursive && ReadOnlyForceRecursive');
      }
      return {
        destination,
        source: cleanPath(m.Source),
        kind: 'bind',
        writable: !m.ReadOnly,
        propagation: prop || 'rprivate',
        nonRecursive: m.BindOptions?.NonRecursive ?? false,
        readOnlyNonRecursive: m.BindOptions?.ReadOnlyNonRecursive ?? false,
        readOnlyForceRecursive: m.BindOptions?.ReadOnlyForceRecursive ?? false,
        mode: '',
        createMountpoint: m.BindOptions?.CreateMountpoint ?? false,
      };
    }
    case 'tmpfs': {
      if (m.BindOptions) throw fail('field BindOptions must not be specified');
      if (m.VolumeOptions) throw fail('field VolumeOptions must not be specified');
      if (m.Source) throw fail('field Source must not be specified');
      const data = tmpfsOptionsString(m.TmpfsOptions, m.ReadOnly ?? false);
      mergeTmpfsOptions(['noexec', 'nosuid', 'nodev', 'rprivate', ...(data ? data.split(',') : [])]);
      return { destination, source: 'tmpfs', kind: 'tmpfs', writable: !m.ReadOnly, data, mode: '' };
    }
    case 'volume': {
      if (m.BindOptions) throw fail('field BindOptions must not be specified');
      if (m.TmpfsOptions) throw fail('field TmpfsOptions must not be specified');
      const vo = m.VolumeOptions;
      if (vo?.Subpath) throw fail('volume subpaths are not supported');
      const name = m.Source ?? '';
      if (name !== '' && path.isAbsolute(name)) throw fail(`invalid volume name: ${name}: a volume name cannot be an absolute path`);
      const volumeCreate = vo?.DriverConfig || vo?.Labels ? { driver: vo.DriverConfig?.Name, options: vo.DriverConfig?.Options, labels: vo.Labels } : undefined;
      return { destination, source: '', kind: 'volume', name, writable: !m.ReadOnly, copyData: !vo?.NoCopy, mode: '', volumeCreate };
    }
    case 'npipe':
    case 'cluster':
    case 'image':
      throw fail(`mount type ${m.Type} is not supported`);
    default:
      throw fail('mount type unknown');
  }
}

const PROPAGATION_WORDS = new Set(['bind', 'rbind', 'unbindable', 'runbindable', 'private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave']);
const TMPFS_DATA = new Set(['size', 'mode', 'uid', 'gid', 'nr_inodes', 'nr_blocks', 'mpol']);

/**
 * Docker's de-duplication of tmpfs options: scanning from the end, the last word for each flag
 * (and one propagation word, and the last `key=value` per key) is kept, in order. Anything else
 * is an `invalid tmpfs option`.
 */
export function mergeTmpfsOptions(options: readonly string[]): string[] {
  const flags = new Set<number | string>();
  const data = new Set<string>();
  const out: string[] = [];
  for (let i = options.length - 1; i >= 0; i--) {
    const o = options[i]!;
    if (o === 'defaults') continue;
    // a later word for the same flag wins ("ro" and "rw" are one key); one propagation word
    const key = PROPAGATION_WORDS.has(o) ? 'propagation' : mountFlagWord(o)?.flag;
    if (key !== undefined) {
      if (!flags.has(key)) {
        out.unshift(o);
        flags.add(key);
      }
      continue;
    }
    const eq = o.indexOf('=');
    const name = eq < 0 ? o : o.slice(0, eq);
    if (eq < 0 || !TMPFS_DATA.has(name)) throw new Error(`invalid tmpfs option "${name}"`);
    if (!data.has(name)) {
      out.unshift(o);
      data.add(name);
    }
  }
  return out;
}

/** A user mount as an OCI mount, the way dockerd writes it. */
export function toOciMount(m: UserMount, recursiveReadOnly: boolean): OciMount {
  if (m.kind === 'volume') throw new Error(`volume for ${m.destination} was not resolved to a host path`);
  if (m.kind === 'tmpfs') {
    const options = mergeTmpfsOptions(['noexec', 'nosuid', 'nodev', 'rprivate', ...(m.data ? m.data.split(',') : [])]);
    return { destination: m.destination, type: 'tmpfs', source: 'tmpfs', options };
  }
  const options = [m.nonRecursive ? 'bind' : 'rbind'];
  if (!m.writable) {
    const rro = recursiveReadOnly && !m.readOnlyNonRecursive;
    if (m.readOnlyForceRecursive && !rro) throw new Error('recursively read-only mounts are not supported by the runtime');
    options.push(rro ? 'rro' : 'ro');
  }
  options.push(m.propagation ?? 'rprivate');
  return { destination: m.destination, type: 'bind', source: m.source, options };
}

/** Docker's mount order: by path depth, shallow first (so a parent is mounted before its children). */
export function sortMounts<T extends { destination: string }>(mounts: T[]): T[] {
  const depth = (p: string) => cleanPath(p).split('/').length;
  return mounts
    .map((m, i) => ({ m, i }))
    .sort((a, b) => depth(a.m.destination) - depth(b.m.destination) || a.i - b.i)
    .map((x) => x.m);
}
