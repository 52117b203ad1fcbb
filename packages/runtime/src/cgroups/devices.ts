import type { DeviceCgroupRule } from '../spec/types';
import { CgroupError } from './errors';

/** One line for v1 devices.allow / devices.deny. */
export interface DeviceLine {
  file: 'devices.allow' | 'devices.deny';
  line: string;
}

/** An OCI device rule, validated, with the defaults filled in. */
export interface ParsedDeviceRule {
  allow: boolean;
  /** 'a' matches both block and character devices. */
  type: 'a' | 'b' | 'c';
  /** undefined: any. */
  major?: number;
  minor?: number;
  /** Some of "rwm", each at most once. */
  access: string;
}

/**
 * Validate one OCI rule: type a/b/c (default a), access made of r, w, m (default rwm), major and
 * minor non-negative integers where null, undefined and -1 mean "any".
 */
export function parseDeviceRule(rule: DeviceCgroupRule): ParsedDeviceRule {
  const type = rule.type ?? 'a';
  if (type !== 'a' && type !== 'b' && type !== 'c') {
    throw new CgroupError('INVALID_RESOURCE', `invalid device rule type ${JSON.stringify(type)}`);
  }
  // Like runc, letters other than r, w and m are dropped ("rwa" is "rw"); nothing left is an error.
  const access = [...'rwm'].filter((c) => (rule.access ?? 'rwm').includes(c)).join('');
  if (access === '') throw new CgroupError('INVALID_RESOURCE', `invalid device access ${JSON.stringify(rule.access)}`);
  return { allow: rule.allow, type, major: devNumber(rule.major), minor: devNumber(rule.minor), access };
}

/**
 * The v1 lines for one OCI rule, e.g. "c 1:3 rwm". The kernel reads any line starting with "a" as
 * "all devices, all access" and ignores the rest, so a type-"a" rule narrowed by major/minor or
 * access is expanded to the "b" and "c" lines it means instead of silently widening.
 */
export function deviceLines(rule: DeviceCgroupRule): DeviceLine[] {
  const r = parseDeviceRule(rule);
  const file = r.allow ? 'devices.allow' : 'devices.deny';
  const major = r.major ?? '*';
  const minor = r.minor ?? '*';
  if (r.type === 'a') {
    if (major === '*' && minor === '*' && r.access.length === 3) return [{ file, line: 'a' }];
    return ['b', 'c'].map((t) => ({ file, line: `${t} ${major}:${minor} ${r.access}` }));
  }
  return [{ file, line: `${r.type} ${major}:${minor} ${r.access}` }];
}

/**
 * null, undefined and -1 mean "any". Real numbers are 12 (major) and 20 (minor) bits; anything
 * above 2^31-1 is refused because the v2 filter compares against a signed 32-bit immediate.
 */
function devNumber(n: number | null | undefined): number | undefined {
  if (n === null || n === undefined || n === -1) return undefined;
  if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff) throw new CgroupError('INVALID_RESOURCE', `invalid device number ${n}`);
  return n;
}
