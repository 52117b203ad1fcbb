import { CgroupPathError } from './errors';

/** Parent of containers whose config gives no cgroupsPath. */
const DEFAULT_PARENT = '/gantry';
/** Parent slice runc's systemd driver uses when the "slice" part is empty. */
const DEFAULT_SLICE = 'system.slice';

/**
 * Resolve OCI `linux.cgroupsPath` to a normalized path under each hierarchy root ("/a/b").
 * - absolute ("/a/b") and relative ("a/b") paths are both taken from the hierarchy root
 *   (not from the runtime's own cgroup, which would tie containers to whoever started us);
 * - "slice:prefix:name" (systemd driver syntax) maps to where systemd would put the unit;
 * - empty/undefined gives `/gantry/<containerId>`.
 */
export function resolveCgroupPath(cgroupsPath: string | undefined, containerId: string): string {
  if (cgroupsPath === undefined || cgroupsPath === '') {
    checkName(containerId, 'container id', containerId);
    return `${DEFAULT_PARENT}/${containerId}`;
  }
  if (isSystemdPath(cgroupsPath)) return systemdToPath(cgroupsPath);
  return normalizeCgroupPath(cgroupsPath);
}

/** "slice:prefix:name" — three colon-separated fields, not starting with "/". */
export function isSystemdPath(cgroupsPath: string): boolean {
  return !cgroupsPath.startsWith('/') && cgroupsPath.split(':').length === 3;
}

function systemdToPath(cgroupsPath: string): string {
  const [slice, prefix, name] = cgroupsPath.split(':') as [string, string, string];
  checkName(name, 'systemd unit name', cgroupsPath);
  if (prefix !== '') checkName(prefix, 'systemd scope prefix', cgroupsPath);
  // A name ending in ".slice" asks for a slice unit, which systemd places by its own name.
  if (name.endsWith('.slice')) return normalizeCgroupPath(expandSlice(name, cgroupsPath));
  const parent = expandSlice(slice === '' ? DEFAULT_SLICE : slice, cgroupsPath);
  // runc joins prefix and name with "-" even when the prefix is empty; match it so both agree.
  return normalizeCgroupPath(`${parent === '/' ? '' : parent}/${prefix}-${name}.scope`);
}

/**
 * Expand a slice name the way systemd nests slices: "a-b-c.slice" → "/a.slice/a-b.slice/a-b-c.slice";
 * "-.slice" is the root slice ("/").
 */
export function expandSlice(slice: string, cgroupsPath: string = slice): string {
  const suffix = '.slice';
  if (slice.length <= suffix.length || !slice.endsWith(suffix) || /[/\0]/.test(slice)) {
    throw new CgroupPathError(`invalid slice name ${JSON.stringify(slice)}`, cgroupsPath);
  }
  const base = slice.slice(0, -suffix.length);
  if (base === '-') return '/';
  let path = '';
  let prefix = '';
  for (const part of base.split('-')) {
    // "a--b.slice", "-a.slice" and "a-.slice" are not valid slice names.
    if (part === '') throw new CgroupPathError(`invalid slice name ${JSON.stringify(slice)}`, cgroupsPath);
    path += `/${prefix}${part}${suffix}`;
    prefix += `${part}-`;
  }
  return path;
}

/**
 * Normalize "a//b/./c" to "/a/b/c". ".." is resolved, but may not climb above the hierarchy root;
 * the root itself is refused because a container must never own (and later rmdir) it.
 */
function normalizeCgroupPath(p: string): string {
  if (p.includes('\0')) throw new CgroupPathError('cgroup path contains a NUL byte', p);
  const parts: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length === 0) throw new CgroupPathError(`cgroup path ${JSON.stringify(p)} escapes the hierarchy root`, p);
      parts.pop();
      continue;
    }
    parts.push(part);
  }
  if (parts.length === 0) throw new CgroupPathError(`cgroup path ${JSON.stringify(p)} names the hierarchy root`, p);
  return `/${parts.join('/')}`;
}

/** A single path component: non-empty, no "/", NUL, "." or "..". */
function checkName(name: string, what: string, cgroupsPath: string): void {
  if (name === '' || name === '.' || name === '..' || /[/\0]/.test(name)) {
    throw new CgroupPathError(`invalid ${what} ${JSON.stringify(name)}`, cgroupsPath);
  }
}
