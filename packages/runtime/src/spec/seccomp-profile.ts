import type { Seccomp, SeccompArg, SeccompSyscall } from './types';
import { DEFAULT_SECCOMP_PROFILE } from './seccomp-default';

/**
 * Docker's seccomp profile format (what `--security-opt seccomp=profile.json` takes): OCI's
 * LinuxSeccomp plus conditional rules. A rule applies when all of `includes` hold (every listed
 * capability in the container's bounding set, the host architecture listed, the kernel at least
 * `minKernel`) and none of `excludes` does (any listed capability, the architecture, the kernel).
 */
interface SeccompFilter {
  caps?: string[];
  /** libseccomp architecture names: amd64, x86, x32, arm, arm64, ppc64le, s390, s390x, riscv64, ... */
  arches?: string[];
  /** `"<kernel>.<major>"` */
  minKernel?: string;
}

interface SeccompRule {
  names?: string[];
  /** Old single-name form. */
  name?: string;
  action: string;
  errnoRet?: number;
  args?: SeccompArg[];
  comment?: string;
  includes?: SeccompFilter;
  excludes?: SeccompFilter;
}

export interface SeccompProfileSource {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  archMap?: { architecture: string; subArchitectures?: string[] | null }[];
  flags?: string[];
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls?: SeccompRule[] | null;
}

export interface SeccompContext {
  /** The container's bounding capabilities. */
  capabilities: readonly string[];
  /** Node's `process.arch` of the host (default: this process'). */
  arch?: string;
  /** Host kernel release (`os.release()`); absent: every `minKernel` is taken as met. */
  kernel?: string;
}

/** Node's process.arch → libseccomp's native architecture name. */
const NODE_TO_NATIVE: Record<string, string> = {
  x64: 'amd64',
  ia32: 'x86',
  arm64: 'arm64',
  arm: 'arm',
  ppc64: 'ppc64le',
  ppc: 'ppc',
  s390x: 's390x',
  s390: 's390',
  riscv64: 'riscv64',
  loong64: 'loongarch64',
  mips: 'mips',
  mipsel: 'mipsel',
};

/** libseccomp's native architecture name → the OCI SCMP_ARCH_* name. */
const NATIVE_TO_SCMP: Record<string, string> = {
  x86: 'SCMP_ARCH_X86',
  amd64: 'SCMP_ARCH_X86_64',
  arm: 'SCMP_ARCH_ARM',
  arm64: 'SCMP_ARCH_AARCH64',
  loongarch64: 'SCMP_ARCH_LOONGARCH64',
  mips64: 'SCMP_ARCH_MIPS64',
  mips64n32: 'SCMP_ARCH_MIPS64N32',
  mipsel64: 'SCMP_ARCH_MIPSEL64',
  mipsel64n32: 'SCMP_ARCH_MIPSEL64N32',
  mipsel: 'SCMP_ARCH_MIPSEL',
  ppc: 'SCMP_ARCH_PPC',
  ppc64: 'SCMP_ARCH_PPC64',
  ppc64le: 'SCMP_ARCH_PPC64LE',
  riscv64: 'SCMP_ARCH_RISCV64',
  s390: 'SCMP_ARCH_S390',
  s390x: 'SCMP_ARCH_S390X',
};

function parseKernel(v: string): [number, number] | undefined {
  const m = /^(\d+)\.(\d+)/.exec(v);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

function kernelAtLeast(kernel: string | undefined, min: string): boolean {
  const want = parseKernel(min);
  if (!want) throw new Error(`invalid kernel version: "${min}", expected "<kernel>.<major>"`);
  const have = kernel === undefined ? undefined : parseKernel(kernel);
  if (!have) return true;
  return have[0] > want[0] || (have[0] === want[0] && have[1] >= want[1]);
}

/** A Docker seccomp profile resolved for one container: the OCI `linux.seccomp`, or undefined for "no filter". */
export function resolveSeccompProfile(profile: SeccompProfileSource, ctx: SeccompContext): Seccomp | undefined {
  const rules = profile.syscalls ?? [];
  if (!profile.defaultAction && rules.length === 0) return undefined;
  if ((profile.architectures?.length ?? 0) > 0 && (profile.archMap?.length ?? 0) > 0) {
    throw new Error("both 'architectures' and 'archMap' are specified in the seccomp profile, use either 'architectures' or 'archMap'");
  }
  const native = NODE_TO_NATIVE[ctx.arch ?? process.arch] ?? ctx.arch ?? process.arch;
  const out: Seccomp = { defaultAction: profile.defaultAction };
  if (profile.defaultErrnoRet !== undefined) out.defaultErrnoRet = profile.defaultErrnoRet;
  let architectures = profile.architectures ? [...profile.architectures] : [];
  const scmp = NATIVE_TO_SCMP[native];
  const entry = scmp ? profile.archMap?.find((a) => a.architecture === scmp) : undefined;
  if (entry) architectures = [entry.architecture, ...(entry.subArchitectures ?? [])];
  if (architectures.length > 0) out.architectures = architectures;
  if (profile.flags?.length) out.flags = [...profile.flags];
  if (profile.listenerPath) out.listenerPath = profile.listenerPath;
  if (profile.listenerMetadata) out.listenerMetadata = profile.listenerMetadata;
  const caps = new Set(ctx.capabilities);
  const syscalls: SeccompSyscall[] = [];
  for (const rule of rules) {
    if (rule.name && rule.names?.length) throw new Error("both 'name' and 'names' are specified in the seccomp profile, use either 'name' or 'names'");
    const ex = rule.excludes;
    if (ex) {
      if (ex.arches?.includes(native)) continue;
      if (ex.caps?.some((c) => caps.has(c))) continue;
      if (ex.minKernel && kernelAtLeast(ctx.kernel, ex.minKernel)) continue;
    }
    const inc = rule.includes;
    if (inc) {
      if (inc.arches?.length && !inc.arches.includes(native)) continue;
      if (inc.caps?.length && !inc.caps.every((c) => caps.has(c))) continue;
      if (inc.minKernel && !kernelAtLeast(ctx.kernel, inc.minKernel)) continue;
    }
    const call: SeccompSyscall = { names: rule.name ? [rule.name] : [...(rule.names ?? [])], action: rule.action };
    if (rule.errnoRet !== undefined) call.errnoRet = rule.errnoRet;
    if (rule.args?.length) call.args = rule.args.map((a) => ({ ...a }));
    syscalls.push(call);
  }
  out.syscalls = syscalls;
  return out;
}

/** Docker's built-in profile for a container with these capabilities. */
export function defaultSeccompProfile(ctx: SeccompContext): Seccomp {
  return resolveSeccompProfile(DEFAULT_SECCOMP_PROFILE, ctx)!;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A profile given as JSON text (`seccomp=<json>` in SecurityOpt, as the docker CLI sends it). */
export function parseSeccompProfile(text: string): SeccompProfileSource {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`Decoding seccomp profile failed: ${(e as Error).message}`, { cause: e });
  }
  const bad = (what: string) => new Error(`Decoding seccomp profile failed: ${what}`);
  if (!isObject(raw)) throw bad('the profile must be a JSON object');
  const strList = (v: unknown, what: string): string[] | undefined => {
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw bad(`${what} must be a list of strings`);
    return v as string[];
  };
  if (raw.defaultAction !== undefined && typeof raw.defaultAction !== 'string') throw bad('defaultAction must be a string');
  const profile: SeccompProfileSource = { defaultAction: (raw.defaultAction as string | undefined) ?? '' };
  if (raw.defaultErrnoRet !== undefined && raw.defaultErrnoRet !== null) {
    if (!Number.isInteger(raw.defaultErrnoRet)) throw bad('defaultErrnoRet must be an integer');
    profile.defaultErrnoRet = raw.defaultErrnoRet as number;
  }
  profile.architectures = strList(raw.architectures, 'architectures');
  profile.flags = strList(raw.flags, 'flags');
  if (typeof raw.listenerPath === 'string') profile.listenerPath = raw.listenerPath;
  if (typeof raw.listenerMetadata === 'string') profile.listenerMetadata = raw.listenerMetadata;
  if (raw.archMap !== undefined && raw.archMap !== null) {
    if (!Array.isArray(raw.archMap)) throw bad('archMap must be a list');
    profile.archMap = raw.archMap.map((a: unknown) => {
      if (!isObject(a) || typeof a.architecture !== 'string') throw bad('archMap entries need an architecture');
      return { architecture: a.architecture, subArchitectures: strList(a.subArchitectures, 'subArchitectures') ?? [] };
    });
  }
  if (raw.syscalls !== undefined && raw.syscalls !== null) {
    if (!Array.isArray(raw.syscalls)) throw bad('syscalls must be a list');
    profile.syscalls = raw.syscalls.map((r: unknown) => {
      if (!isObject(r) || typeof r.action !== 'string') throw bad('every syscall rule needs an action');
      const rule: SeccompRule = { action: r.action };
      rule.names = strList(r.names, 'names');
      if (typeof r.name === 'string' && r.name !== '') rule.name = r.name;
      if (r.errnoRet !== undefined && r.errnoRet !== null) {
        if (!Number.isInteger(r.errnoRet)) throw bad('errnoRet must be an integer');
        rule.errnoRet = r.errnoRet as number;
      }
      if (r.args !== undefined && r.args !== null) {
        if (!Array.isArray(r.args)) throw bad('args must be a list');
        rule.args = r.args.map((a: unknown) => {
          if (!isObject(a) || !Number.isInteger(a.index) || typeof a.value !== 'number' || typeof a.op !== 'string') {
            throw bad('syscall args need an index, a value and an op');
          }
          const arg: SeccompArg = { index: a.index as number, value: a.value, op: a.op };
          if (typeof a.valueTwo === 'number') arg.valueTwo = a.valueTwo;
          return arg;
        });
      }
      for (const key of ['includes', 'excludes'] as const) {
        const f = r[key];
        if (f === undefined || f === null) continue;
        if (!isObject(f)) throw bad(`${key} must be an object`);
        const filter: SeccompFilter = {};
        const caps = strList(f.caps, `${key}.caps`);
        const arches = strList(f.arches, `${key}.arches`);
        if (caps) filter.caps = caps;
        if (arches) filter.arches = arches;
        if (typeof f.minKernel === 'string' && f.minKernel !== '') {
          if (!parseKernel(f.minKernel)) throw bad(`invalid kernel version: "${f.minKernel}", expected "<kernel>.<major>"`);
          filter.minKernel = f.minKernel;
        }
        rule[key] = filter;
      }
      return rule;
    });
  }
  return profile;
}
