import type { CompiledSeccomp, SeccompFilter, Sys } from '@gantry/linux';

/** Distinct filters kept: a shim serves one container, a CLI process one command. */
const MAX_PROGRAMS = 8;

/**
 * Exec filters compiled by the runtime, by the filter's JSON (the whole filter, argument values
 * included: two filters share a program only if they are equal). Compiling Docker's profile is ~20 ms in a cold exec stage and
 * a few in the warm runtime; a shim compiles its container's profile once and every exec after
 * that only loads it.
 */
export class SeccompPrograms {
  private readonly programs = new Map<string, CompiledSeccomp | undefined>();
  constructor(private readonly sys: Sys) {}

  /** The compiled program, or undefined where the stage must compile it (not x86_64). */
  compiled(filter: SeccompFilter): CompiledSeccomp | undefined {
    const key = JSON.stringify(filter, (_, v: unknown) => (typeof v === 'bigint' ? { bigint: v.toString() } : v));
    if (this.programs.has(key)) return this.programs.get(key);
    const program = this.sys.seccompCompile(filter);
    if (this.programs.size >= MAX_PROGRAMS) this.programs.delete(this.programs.keys().next().value!);
    this.programs.set(key, program);
    return program;
  }
}
