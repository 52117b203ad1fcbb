import type { SeccompFilter } from '@gantry/linux';

const ENOSYS = 38;

/**
 * The exec stage loads the container's filter and then calls posix_spawn, whose glibc tries
 * clone3 first and falls back to clone only on ENOSYS. A profile that names clone3 decides for
 * itself (Docker's answers ENOSYS); one that does not would answer its default action (EPERM,
 * or a kill), and exec would fail where runc works. Such a profile gets clone3 → ENOSYS, which is
 * what runc's own seccomp patcher answers for syscalls a profile does not know.
 */
export function withCloneFallback(filter: SeccompFilter | undefined): SeccompFilter | undefined {
  if (!filter) return undefined;
  if (filter.defaultAction === 'SCMP_ACT_ALLOW' || filter.defaultAction === 'SCMP_ACT_LOG') return filter;
  if (filter.rules.some((r) => r.names.includes('clone3'))) return filter;
  return { ...filter, rules: [...filter.rules, { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS, args: [] }] };
}
