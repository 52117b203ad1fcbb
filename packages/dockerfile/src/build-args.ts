/**
 * Build args and their scopes, as the classic builder keeps them:
 *
 * - `--build-arg` values (a value of null means "given without one": it overrides nothing).
 * - Global ARGs (before the first FROM) are expanded in order, with the values before them, and
 *   are what FROM lines (image and --platform) are expanded with.
 * - A stage sees no build arg until it declares it (`ARG NAME` or `ARG NAME=default`); a
 *   declaration without a default takes the global ARG's value; `--build-arg` overrides both.
 *   An ENV of the same name hides the arg.
 * - The predefined proxy args (HTTP_PROXY, https_proxy, NO_PROXY, ...) are in scope in every
 *   stage when given with `--build-arg`, without a declaration, but RUN's history line shows them
 *   only when the stage declared them.
 * - A `--build-arg` no stage declared is reported (`[Warning] One or more build-args [X] were not
 *   consumed`).
 */
import { expandInstruction } from './expand';
import type { ArgDecl, ArgInstruction } from './instructions';

/** The args Docker passes to every build step without a declaration when they are given. */
export const PROXY_ARGS: readonly string[] = [
  'HTTP_PROXY',
  'http_proxy',
  'HTTPS_PROXY',
  'https_proxy',
  'FTP_PROXY',
  'ftp_proxy',
  'NO_PROXY',
  'no_proxy',
  'ALL_PROXY',
  'all_proxy',
];
const PROXY = new Set(PROXY_ARGS);

export type BuildArgValues = Readonly<Record<string, string | null>>;

type Declared = Map<string, string | undefined>;

/** The value of `key` given `declared` (its default), the `--build-arg`s and the global ARGs. */
function valueOf(key: string, declared: Declared, options: Map<string, string>, globals: Declared): string | undefined {
  const override = options.get(key);
  if (override !== undefined) return override;
  if (declared.has(key)) {
    const def = declared.get(key);
    return def !== undefined ? def : globals.get(key);
  }
  return globals.get(key);
}

function allOf(declared: Declared, options: Map<string, string>, globals: Declared): Map<string, string> {
  const out = new Map<string, string>();
  for (const key of new Set([...declared.keys(), ...PROXY_ARGS])) {
    const v = valueOf(key, declared, options, globals);
    if (v !== undefined) out.set(key, v);
  }
  return out;
}

/** The build's args: `--build-arg`s, the global ARGs, and which were used. */
export class BuildArgs {
  private readonly options = new Map<string, string>();
  private readonly given: string[];
  private readonly globals: Declared = new Map();
  /** Declared anywhere (globally or in a stage that ran). */
  private readonly referenced = new Set<string>();

  constructor(buildArgs: BuildArgValues = {}, globalArgs: readonly ArgInstruction[] = [], escapeChar = '\\') {
    this.given = Object.keys(buildArgs);
    for (const [k, v] of Object.entries(buildArgs)) if (v !== null) this.options.set(k, v);
    for (const arg of globalArgs) {
      // each global ARG is expanded with the ones before it (and their overrides)
      const expanded = expandInstruction(arg, this.globalEnv(), escapeChar);
      for (const d of expanded.args) {
        this.globals.set(d.key, d.value);
        this.referenced.add(d.key);
      }
    }
  }

  /** What FROM lines are expanded with: the global ARGs (overridden) and the given proxy args. */
  globalEnv(): Map<string, string> {
    return allOf(this.globals, this.options, new Map());
  }

  /** A new stage's scope: nothing declared yet. */
  stage(): StageArgs {
    return new StageArgs(this.options, this.globals, (k) => this.referenced.add(k));
  }

  /** `--build-arg`s no ARG declared (proxy args excepted), sorted: Docker warns about them. */
  unconsumed(): string[] {
    return this.given.filter((k) => !this.referenced.has(k) && !PROXY.has(k)).sort();
  }
}

/** The build args of one stage. */
export class StageArgs {
  private readonly declared: Declared = new Map();

  constructor(
    private readonly options: Map<string, string>,
    private readonly globals: Declared,
    private readonly reference: (key: string) => void,
  ) {}

  /** An ARG instruction of the stage, already expanded (`expandInstruction` with `expansionEnv`). */
  declare(decls: readonly ArgDecl[]): void {
    for (const d of decls) {
      this.declared.set(d.key, d.value);
      this.reference(d.key);
    }
  }

  /** The args in scope that no ENV of the config hides, as `KEY=value`, sorted (Docker's FilterAllowed). */
  inScope(configEnv: readonly string[] = []): string[] {
    const envKeys = new Set(configEnv.map((e) => e.split('=', 1)[0]!));
    const out: string[] = [];
    for (const [k, v] of allOf(this.declared, this.options, this.globals)) if (!envKeys.has(k)) out.push(`${k}=${v}`);
    return out.sort();
  }

  /** What the stage's instructions are expanded with: the config's Env, then the args in scope. */
  expansionEnv(configEnv: readonly string[] = []): Map<string, string> {
    const env = new Map<string, string>();
    for (const e of [...configEnv, ...this.inScope(configEnv)]) {
      const eq = e.indexOf('=');
      env.set(eq < 0 ? e : e.slice(0, eq), eq < 0 ? '' : e.slice(eq + 1));
    }
    return env;
  }

  /** The environment of a RUN: the config's Env and the args in scope. */
  runEnv(configEnv: readonly string[] = []): string[] {
    return [...configEnv, ...this.inScope(configEnv)];
  }

  /**
   * The `KEY=value`s RUN's history line starts with (`|2 A=1 B=2 /bin/sh -c make`): undefined when
   * no arg is in scope (no prefix at all); proxy args only when declared.
   */
  historyArgs(configEnv: readonly string[] = []): string[] | undefined {
    const all = this.inScope(configEnv);
    if (all.length === 0) return undefined;
    return all.filter((kv) => {
      const k = kv.split('=', 1)[0]!;
      return this.declared.has(k) || !PROXY.has(k);
    });
  }
}
