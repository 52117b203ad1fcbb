/**
 * A parsed Go template with docker's functions: `Template.parse(text)` then `execute(data)`.
 * Parsing checks what Go checks at parse time (syntax, defined functions, declared variables);
 * execution reports Go's errors. Both are bounded by TemplateLimits.
 */
import { DEFAULT_LIMITS, type TemplateLimits } from './errors';
import { Executor, type MissingKey } from './exec';
import { BUILTINS, DOCKER_FUNCS, type FuncSpec } from './funcs';
import { parseTemplate, type ParsedTemplate } from './parse';
import { unbox } from './value';

/** A function a template may call: it gets the evaluated arguments; a throw becomes `error calling NAME: message`. */
export type TemplateFunc = (...args: unknown[]) => unknown;

export interface TemplateOptions {
  /** Name used in messages (docker's templates have the name ""). */
  name?: string;
  /** Add docker's functions (json, split, join, title, lower, upper, pad, truncate). Default true. */
  dockerFuncs?: boolean;
  /** More functions, by name (override builtins of the same name). */
  funcs?: Record<string, TemplateFunc>;
  /** Go's `missingkey` option for map keys. Default 'default' (`<no value>`). */
  missingKey?: MissingKey;
  limits?: Partial<TemplateLimits>;
}

export interface ExecuteOptions {
  /** Replace functions for this execution (docker's header row uses DOCKER_HEADER_FUNCS). */
  funcs?: Record<string, FuncSpec>;
}

function userSpec(f: TemplateFunc): FuncSpec {
  return { params: [], variadic: 'any', fn: (args) => f(...args.map(unbox)) };
}

export class Template {
  private constructor(
    readonly parsed: ParsedTemplate,
    private readonly funcs: ReadonlyMap<string, FuncSpec>,
    private readonly limits: TemplateLimits,
    private readonly missingKey: MissingKey,
  ) {}

  /** Parse a template; throws TemplateParseError or TemplateLimitError. */
  static parse(text: string, opts: TemplateOptions = {}): Template {
    const funcs = new Map<string, FuncSpec>(Object.entries(BUILTINS));
    if (opts.dockerFuncs !== false) for (const [k, v] of Object.entries(DOCKER_FUNCS)) funcs.set(k, v);
    for (const [k, f] of Object.entries(opts.funcs ?? {})) funcs.set(k, userSpec(f));
    const limits = { ...DEFAULT_LIMITS, ...opts.limits };
    const parsed = parseTemplate(text, new Set(funcs.keys()), { name: opts.name ?? '', limits });
    return new Template(parsed, funcs, limits, opts.missingKey ?? 'default');
  }

  /** Execute over `data`; throws TemplateExecError or TemplateLimitError. */
  execute(data: unknown, opts: ExecuteOptions = {}): string {
    let funcs = this.funcs;
    if (opts.funcs) {
      const m = new Map(this.funcs);
      for (const [k, v] of Object.entries(opts.funcs)) m.set(k, v);
      funcs = m;
    }
    return new Executor(this.parsed, { funcs, limits: this.limits, missingKey: this.missingKey }).run(data);
  }
}
