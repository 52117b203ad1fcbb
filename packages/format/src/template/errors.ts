/**
 * The errors of the template engine. Messages have the shape of Go's text/template, so that what
 * a user sees for a bad `--format` reads as docker's:
 *   parse:     `template: :1: function "foo" not defined`
 *   execution: `template: :1:2: executing "" at <.Foo>: can't evaluate field Foo in type T`
 */

/** Any error of parsing or executing a template. */
import { goQuote } from './quote';
export class TemplateError extends Error {
  override name = 'TemplateError';
  /** What an execution wrote before it failed (docker keeps it for a table's header row). */
  partial?: string;
}

/** The template text is not a template (`line` is 1-based). */
export class TemplateParseError extends TemplateError {
  override name = 'TemplateParseError';
  constructor(
    readonly templateName: string,
    readonly line: number,
    readonly reason: string,
  ) {
    super(`template: ${templateName}:${line}: ${reason}`);
  }
}

/** Executing a parsed template failed at a node (`location` is `name:line:col`, `context` the node's text). */
export class TemplateExecError extends TemplateError {
  override name = 'TemplateExecError';
  constructor(
    readonly location: string,
    readonly templateName: string,
    readonly context: string,
    readonly reason: string,
  ) {
    super(`template: ${location}: executing ${goQuote(templateName)} at <${context}>: ${reason}`);
  }
}

/** A parse or an execution went over one of the limits (`TemplateLimits`). */
export class TemplateLimitError extends TemplateError {
  override name = 'TemplateLimitError';
  constructor(
    readonly limit: keyof TemplateLimits,
    readonly value: number,
  ) {
    super(`template: limit exceeded: ${limit} (${value})`);
  }
}

/** Bounds on parsing and executing untrusted templates over untrusted data. */
export interface TemplateLimits {
  /** Longest template text accepted, in UTF-16 units (default 1 MiB). */
  maxTemplateLength: number;
  /** Deepest nesting of control blocks and parentheses when parsing (default 200). */
  maxNesting: number;
  /** Longest output of one execution, in UTF-16 units (default 16 MiB). */
  maxOutput: number;
  /** Most evaluation steps (node visits, range iterations, printed values) of one execution (default 2,000,000). */
  maxSteps: number;
  /** Deepest `template`/`block` call chain and value nesting when printing (default 100). */
  maxDepth: number;
}

export const DEFAULT_LIMITS: TemplateLimits = {
  maxTemplateLength: 1 << 20,
  maxNesting: 200,
  maxOutput: 16 << 20,
  maxSteps: 2_000_000,
  maxDepth: 100,
};

export { goQuote } from './quote';
