import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { preloadSeccomp, writeFileAtomic, type CompiledSeccomp, type SeccompFilter, type Sys } from '@gantry/linux';

/** Distinct filters kept: a shim serves one container, a CLI process one command. */
const MAX_PROGRAMS = 8;

export interface SeccompProgramsOptions {
  /**
   * A directory of compiled programs shared by the processes of one host (the shims of a daemon:
   * each is a new process with one container, and compiling Docker's profile took 20-110 ms of its
   * create). Root's, like the runtime's state: a program there is loaded into containers as is.
   */
  cacheDir?: string;
  /** What else a program depends on besides its filter; default: the libseccomp file this process loaded. */
  fingerprint?: () => string;
}

/**
 * The libseccomp this process loaded (its file's identity): a newer one may know syscall names an
 * older one skipped, so its programs are not the same.
 */
function libseccompFingerprint(): string {
  preloadSeccomp();
  const line = fs
    .readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .find((l) => /\/libseccomp\.so[^/]*$/.test(l));
  const file = line?.slice(line.indexOf('/'));
  if (!file) return 'unknown';
  const st = fs.statSync(file, { bigint: true });
  return `${file}:${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}`;
}

function validProgram(v: unknown): v is CompiledSeccomp {
  const p = v as Partial<CompiledSeccomp> | null;
  return (
    typeof p === 'object' &&
    p !== null &&
    typeof p.program === 'string' &&
    Buffer.from(p.program, 'base64').length % 8 === 0 &&
    p.program.length > 0 &&
    typeof p.flags === 'number' &&
    typeof p.notify === 'boolean'
  );
}

/**
 * seccomp filters compiled by the runtime (which sends the stages the program to load), by the
 * filter's JSON (the whole filter, argument values included: two filters share a program only if
 * they are equal). Compiling Docker's profile is ~20 ms in a cold stage and a few in a warm
 * runtime; a shim compiles its container's profile once and every exec after that only loads it,
 * and with `cacheDir` only the first shim of a host compiles it.
 */
export class SeccompPrograms {
  private readonly programs = new Map<string, CompiledSeccomp | undefined>();
  private fingerprint: string | undefined;
  constructor(
    private readonly sys: Sys,
    private readonly opts: SeccompProgramsOptions = {},
  ) {}

  /** The compiled program, or undefined where the stage must compile it (not x86_64). */
  compiled(filter: SeccompFilter): CompiledSeccomp | undefined {
    const key = JSON.stringify(filter, (_, v: unknown) => (typeof v === 'bigint' ? { bigint: v.toString() } : v));
    if (this.programs.has(key)) return this.programs.get(key);
    const file = this.cacheFile(key);
    let program = file ? this.readCached(file) : undefined;
    if (!program) {
      program = this.sys.seccompCompile(filter);
      if (program && file) this.writeCached(file, program);
    }
    if (this.programs.size >= MAX_PROGRAMS) this.programs.delete(this.programs.keys().next().value!);
    this.programs.set(key, program);
    return program;
  }

  private cacheFile(key: string): string | undefined {
    if (!this.opts.cacheDir || process.arch !== 'x64') return undefined;
    this.fingerprint ??= (this.opts.fingerprint ?? libseccompFingerprint)();
    const name = createHash('sha256').update(`${process.arch}\0${this.fingerprint}\0${key}`).digest('hex');
    return path.join(this.opts.cacheDir, `${name}.json`);
  }

  private readCached(file: string): CompiledSeccomp | undefined {
    try {
      const v: unknown = JSON.parse(fs.readFileSync(file, 'utf8'));
      return validProgram(v) ? v : undefined;
    } catch {
      return undefined; // absent or torn: compile it
    }
  }

  private writeCached(file: string, program: CompiledSeccomp): void {
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      writeFileAtomic(file, JSON.stringify(program), { mode: 0o600, durability: 'process-crash' });
    } catch {
      // a cache only: the next one compiles it again
    }
  }
}
