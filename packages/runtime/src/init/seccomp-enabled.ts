import type { SeccompFilter } from '@gantry/linux';
import type { Seccomp } from '../spec/types';
import { toSeccompFilter } from './seccomp-filter';

/** The filter to load, or undefined when the config has none (runc treats an empty section as none). */
export function seccompFor(spec: Seccomp | undefined): SeccompFilter | undefined {
  if (!spec) return undefined;
  if (!spec.defaultAction && !spec.syscalls?.length) return undefined;
  return toSeccompFilter(spec);
}
