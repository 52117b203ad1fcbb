import type { SeccompArgRule, SeccompFilter, SeccompRule } from '@gantry/linux';
import { ConfigError } from '../errors';
import type { Seccomp, SeccompArg, SeccompSyscall } from '../spec/types';

type ActionName = SeccompFilter['defaultAction'];
type OperatorName = SeccompArgRule['op'];

/** `linux.seccomp` in config.json is invalid or asks for something Gantry does not support. */
export class SeccompConfigError extends ConfigError {}

const ACTIONS: readonly ActionName[] = [
  'SCMP_ACT_KILL',
  'SCMP_ACT_KILL_PROCESS',
  'SCMP_ACT_KILL_THREAD',
  'SCMP_ACT_TRAP',
  'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE',
  'SCMP_ACT_ALLOW',
  'SCMP_ACT_LOG',
  'SCMP_ACT_NOTIFY',
];
/** The actions whose errnoRet means something: the errno returned, or the tracer's message. */
const ACTIONS_WITH_ERRNO: readonly string[] = ['SCMP_ACT_ERRNO', 'SCMP_ACT_TRACE'];

const OPERATORS: readonly OperatorName[] = ['SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ'];

/** The filter flags known to the loader (as runc: TSYNC is accepted and ignored). */
const FLAGS: readonly string[] = [
  'SECCOMP_FILTER_FLAG_TSYNC',
  'SECCOMP_FILTER_FLAG_LOG',
  'SECCOMP_FILTER_FLAG_SPEC_ALLOW',
  'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV',
];

const MAX_ARG_INDEX = 5;
const UINT64_MAX = 0xffffffffffffffffn;

function fail(where: string, problem: string): never {
  throw new SeccompConfigError(`linux.seccomp${where}: ${problem}`);
}

function action(value: unknown, where: string): ActionName {
  if (typeof value !== 'string' || !(ACTIONS as readonly string[]).includes(value)) {
    fail(where, `unknown action ${JSON.stringify(value)} (expected one of ${ACTIONS.join(', ')})`);
  }
  return value as ActionName;
}

function errnoRet(value: unknown, act: ActionName, where: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (!ACTIONS_WITH_ERRNO.includes(act)) fail(where, `only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take an errno, not ${act}`);
  // The kernel keeps 16 bits of SECCOMP_RET_DATA for it.
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffff) {
    fail(where, `${JSON.stringify(value)} is not an errno (an integer 0..65535)`);
  }
  return value;
}

/** A syscall argument datum as a uint64 bigint. */
function datum(value: unknown, where: string): bigint {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    fail(where, `${JSON.stringify(value)} is not an unsigned integer`);
  }
  // JSON.parse rounds 2^64-1 up to 2^64; that double can only have meant the all-ones value.
  if (value === 2 ** 64) return UINT64_MAX;
  const big = BigInt(value);
  if (big > UINT64_MAX) fail(where, `${value} does not fit in 64 bits`);
  return big;
}

function argRule(arg: SeccompArg, where: string): SeccompArgRule {
  if (typeof arg !== 'object' || arg === null) fail(where, 'must be an object');
  if (!Number.isInteger(arg.index) || arg.index < 0 || arg.index > MAX_ARG_INDEX) {
    fail(`${where}.index`, `${JSON.stringify(arg.index)} is not a syscall argument index (0..${MAX_ARG_INDEX})`);
  }
  if (!(OPERATORS as readonly string[]).includes(arg.op)) {
    fail(`${where}.op`, `unknown operator ${JSON.stringify(arg.op)} (expected one of ${OPERATORS.join(', ')})`);
  }
  return {
    index: arg.index,
    value: datum(arg.value, `${where}.value`),
    valueTwo: arg.valueTwo === undefined || arg.valueTwo === null ? 0n : datum(arg.valueTwo, `${where}.valueTwo`),
    op: arg.op as OperatorName,
  };
}

function rule(call: SeccompSyscall, where: string): SeccompRule {
  if (typeof call !== 'object' || call === null) fail(where, 'must be an object');
  if (!Array.isArray(call.names) || call.names.length === 0) fail(`${where}.names`, 'must list at least one syscall');
  call.names.forEach((name, i) => {
    if (typeof name !== 'string' || name === '') fail(`${where}.names[${i}]`, 'must be a non-empty syscall name');
  });
  const act = action(call.action, `${where}.action`);
  const args = call.args ?? [];
  if (!Array.isArray(args)) fail(`${where}.args`, 'must be an array');
  return {
    names: [...call.names],
    action: act,
    errnoRet: errnoRet(call.errnoRet, act, `${where}.errnoRet`),
    args: args.map((a, i) => argRule(a, `${where}.args[${i}]`)),
  };
}

function stringList(value: unknown, where: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) fail(where, 'must be an array of strings');
  return [...(value as string[])];
}

/**
 * Validate the OCI `linux.seccomp` section and turn it into the filter `Sys.seccompLoad` takes.
 * Syscall and architecture names are not checked here: the loader skips the ones its libseccomp
 * does not know, as runc does, so one profile works across kernels and architectures.
 * (runc treats a section with neither defaultAction nor syscalls as "no seccomp"; callers should
 * check that before calling, since here a missing defaultAction is an error.)
 */
export function toSeccompFilter(spec: Seccomp): SeccompFilter {
  const defaultAction = action(spec.defaultAction, '.defaultAction');
  // runc's rules for user notification: every syscall would wait on the agent, or the runtime's
  // own writes to its parent would
  if (defaultAction === 'SCMP_ACT_NOTIFY') fail('.defaultAction', 'SCMP_ACT_NOTIFY cannot be used as default action');
  const architectures = stringList(spec.architectures, '.architectures');
  architectures.forEach((arch, i) => {
    if (!arch.startsWith('SCMP_ARCH_')) fail(`.architectures[${i}]`, `${JSON.stringify(arch)} is not an SCMP_ARCH_* name`);
  });
  const flags = stringList(spec.flags, '.flags');
  flags.forEach((flag, i) => {
    if (!FLAGS.includes(flag)) fail(`.flags[${i}]`, `unknown flag ${JSON.stringify(flag)} (expected one of ${FLAGS.join(', ')})`);
  });
  const syscalls = spec.syscalls ?? [];
  if (!Array.isArray(syscalls)) fail('.syscalls', 'must be an array');
  const rules = syscalls.map((call, i) => rule(call, `.syscalls[${i}]`));
  const notified = rules.filter((r) => r.action === 'SCMP_ACT_NOTIFY');
  if (notified.some((r) => r.names.includes('write'))) fail('.syscalls', 'SCMP_ACT_NOTIFY cannot be used for the write syscall');
  if (notified.length > 0 && !spec.listenerPath) fail('.listenerPath', "SCMP_ACT_NOTIFY needs a listenerPath (the seccomp agent's socket)");
  return {
    defaultAction,
    defaultErrnoRet: errnoRet(spec.defaultErrnoRet, defaultAction, '.defaultErrnoRet'),
    architectures,
    flags,
    rules,
  };
}

/** True when the filter hands a listener to a seccomp agent (it has SCMP_ACT_NOTIFY rules). */
export function usesSeccompAgent(filter: SeccompFilter | undefined): boolean {
  return filter?.rules.some((r) => r.action === 'SCMP_ACT_NOTIFY') ?? false;
}
