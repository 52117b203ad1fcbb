import type { DeviceCgroupRule } from '../spec/types';
import { CgroupError } from './errors';

/** One line for v1 devices.allow / devices.deny. */
export interface DeviceLine {
  file: 'devices.allow' | 'devices.deny';
  line: string;
}

/**
 * The v1 lines for one OCI rule, e.g. "c 1:3 rwm". The kernel reads any line starting with "a" as
 * "all devices, all access" and ignores the rest, so a type-"a" rule narrowed by major/minor or
 * access is expanded to the "b" and "c" lines it means instead of silently widening.
 */
export function deviceLines(rule: DeviceCgroupRule): DeviceLine[] {
  const file = rule.allow ? 'devices.allow' : 'devices.deny';
  const type = rule.type ?? 'a';
  if (type !== 'a' && type !== 'b' && type !== 'c') {
    throw new CgroupError('INVALID_RESOURCE', `invalid device rule type ${JSON.stringify(type)}`);
  }
  // Like runc, letters other than r, w and m are dropped ("rwa" is "rw"); nothing left is an error.
  const access = [...'rwm'].filter((c) => (rule.access ?? 'rwm').includes(c)).join('');
  if (access === '') throw new CgroupError('INVALID_RESOURCE', `invalid device access ${JSON.stringify(rule.access)}`);
  const major = devNumber(rule.major);
  const minor = devNumber(rule.minor);
  if (type === 'a') {
    if (major === '*' && minor === '*' && access.length === 3) return [{ file, line: 'a' }];
    return ['b', 'c'].map((t) => ({ file, line: `${t} ${major}:${minor} ${access}` }));
  }
  return [{ file, line: `${type} ${major}:${minor} ${access}` }];
}

/** null, undefined and -1 mean "any" ("*"). */
function devNumber(n: number | null | undefined): string {
  if (n === null || n === undefined || n === -1) return '*';
  if (!Number.isInteger(n) || n < 0) throw new CgroupError('INVALID_RESOURCE', `invalid device number ${n}`);
  return String(n);
}
