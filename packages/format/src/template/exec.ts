/**
 * The executor of Go's text/template over JavaScript values (see value.ts for the mapping):
 * fields and methods, variables and their scopes, pipelines (the previous command's value is the
 * last argument of the next), if/with/range/else, break/continue, template calls, Go's
 * truthiness and printing, and Go's error messages with their `name:line:col` location and
 * `<node>` context. Every execution is bounded in steps, output and depth (TemplateLimits).
 */
import { argString, commandString, pipeString, type Arg, type NumberNode, type CommandNode, type ListNode, type Node, type PipeNode } from './ast';
import { TemplateError, TemplateExecError, TemplateLimitError, type TemplateLimits } from './errors';
import { formatV } from './fmt';
import { ArgTypeError, checkArg, type FuncSpec } from './funcs';
import type { ParsedTemplate } from './parse';
import { Float64, isExported, isTrue, unbox, kindOf, mapGet, mapHas, mapKeys, structMember, typeName } from './value';

/** What a missing map key gives: Go's missingkey=default (`<no value>`), =zero, or =error. */
export type MissingKey = 'default' | 'zero' | 'error';

export interface ExecOptions {
  funcs: ReadonlyMap<string, FuncSpec>;
  limits: TemplateLimits;
  missingKey: MissingKey;
}

const MISSING = Symbol('missing');
type Final = unknown;

/** {{break}} and {{continue}} unwind to their range as exceptions. */
class BreakSignal extends Error {}
class ContinueSignal extends Error {}

type CtxNode = Arg | CommandNode | PipeNode | Node;

function nodeString(n: CtxNode): string {
  switch (n.type) {
    case 'command':
      return commandString(n);
    case 'pipe':
      return pipeString(n);
    case 'action':
      return `{{${pipeString(n.pipe)}}}`;
    case 'if':
    case 'with':
    case 'range':
      return `{{${n.type} ${pipeString(n.pipe)}}}`;
    case 'template':
      return `{{template ${JSON.stringify(n.name)}${n.pipe ? ' ' + pipeString(n.pipe) : ''}}}`;
    case 'text':
      return n.text;
    case 'break':
    case 'continue':
      return `{{${n.type}}}`;
    default:
      return argString(n);
  }
}

/** A number literal's value: a whole float constant keeps its float type (Float64). */
function numberValue(n: NumberNode): unknown {
  return n.isFloat && Number.isInteger(n.value) ? new Float64(n.value) : n.value;
}

export class Executor {
  private out: string[] = [];
  private size = 0;
  private steps = 0;
  private depth = 0;
  private vars: { name: string; value: unknown }[] = [];
  private node: CtxNode | undefined;

  constructor(
    private readonly tmpl: ParsedTemplate,
    private readonly opts: ExecOptions,
  ) {}

  run(data: unknown): string {
    this.vars = [{ name: '$', value: data }];
    try {
      this.walkList(data, this.tmpl.root);
    } catch (e) {
      if (e instanceof BreakSignal || e instanceof ContinueSignal) this.fail('break or continue outside range');
      const err = e instanceof RangeError && /call stack/i.test(e.message) ? new TemplateLimitError('maxDepth', this.opts.limits.maxDepth) : e;
      if (err instanceof TemplateError) err.partial = this.out.join('');
      throw err;
    }
    return this.out.join('');
  }

  private fail(reason: string): never {
    const n = this.node;
    const text = this.tmpl.text;
    const pos = n ? n.pos : 0;
    const before = text.slice(0, pos);
    const nl = before.lastIndexOf('\n');
    const line = 1 + (before.match(/\n/g)?.length ?? 0);
    const col = new TextEncoder().encode(nl < 0 ? before : before.slice(nl + 1)).length;
    throw new TemplateExecError(`${this.tmpl.name}:${line}:${col}`, this.tmpl.name, n ? nodeString(n) : '', reason);
  }

  private at(n: CtxNode): void {
    this.node = n;
  }

  private step(): void {
    if (++this.steps > this.opts.limits.maxSteps) throw new TemplateLimitError('maxSteps', this.opts.limits.maxSteps);
  }

  private write(s: string): void {
    this.size += s.length;
    if (this.size > this.opts.limits.maxOutput) throw new TemplateLimitError('maxOutput', this.opts.limits.maxOutput);
    this.out.push(s);
  }

  private get budget(): { maxOutput: number; maxDepth: number } {
    return { maxOutput: this.opts.limits.maxOutput - this.size, maxDepth: this.opts.limits.maxDepth };
  }

  // ---------- statements ----------

  private walkList(dot: unknown, list: ListNode): void {
    for (const n of list.nodes) this.walk(dot, n);
  }

  private walk(dot: unknown, n: Node): void {
    this.step();
    this.at(n);
    switch (n.type) {
      case 'text':
        this.write(n.text);
        return;
      case 'action': {
        const v = this.evalPipeline(dot, n.pipe);
        if (n.pipe.decl.length === 0) this.printValue(n, v);
        return;
      }
      case 'if':
      case 'with': {
        const mark = this.vars.length;
        const v = this.evalPipeline(dot, n.pipe);
        if (isTrue(v)) this.walkList(n.type === 'with' ? v : dot, n.list);
        else if (n.elseList) this.walkList(dot, n.elseList);
        this.vars.length = mark;
        return;
      }
      case 'range':
        this.walkRange(dot, n);
        return;
      case 'break':
        throw new BreakSignal();
      case 'continue':
        throw new ContinueSignal();
      case 'template': {
        const list = this.tmpl.defs.get(n.name);
        if (!list) this.fail(`template ${JSON.stringify(n.name)} not defined`);
        const newDot = n.pipe ? this.evalPipeline(dot, n.pipe) : undefined;
        if (this.depth >= this.opts.limits.maxDepth) this.fail(`exceeded maximum template depth (${this.opts.limits.maxDepth})`);
        const saved = this.vars;
        this.vars = [{ name: '$', value: newDot }];
        this.depth++;
        try {
          this.walkList(newDot, list);
        } finally {
          this.depth--;
          this.vars = saved;
        }
        return;
      }
    }
  }

  private walkRange(dot: unknown, r: Extract<Node, { type: 'range' }>): void {
    this.at(r);
    const mark = this.vars.length;
    const val = this.evalPipeline(dot, r.pipe);
    const inner = this.vars.length;
    const one = (index: unknown, elem: unknown): boolean => {
      this.step();
      const decl = r.pipe.decl;
      if (decl.length > 0) {
        if (r.pipe.isAssign) {
          if (decl.length > 1) {
            this.setVar(decl[0].idents[0], index);
            this.setVar(decl[1].idents[0], elem);
          } else this.setVar(decl[0].idents[0], elem);
        } else {
          this.vars[this.vars.length - 1].value = elem;
          if (decl.length > 1) this.vars[this.vars.length - 2].value = index;
        }
      }
      try {
        this.walkList(elem, r.list);
      } catch (e) {
        if (e instanceof BreakSignal) return false;
        if (!(e instanceof ContinueSignal)) throw e;
      } finally {
        this.vars.length = inner;
      }
      return true;
    };
    let ran = false;
    switch (kindOf(val)) {
      case 'slice': {
        const arr = val as ArrayLike<unknown>;
        for (let i = 0; i < arr.length; i++) {
          ran = true;
          if (!one(i, arr[i])) break;
        }
        break;
      }
      case 'map':
        for (const k of mapKeys(val)) {
          ran = true;
          if (!one(k, mapGet(val, k))) break;
        }
        break;
      case 'int': {
        if (r.pipe.decl.length > 1) this.fail(`can't use ${formatV(val, this.budget)} to iterate over more than one variable`);
        const n = Number(val);
        for (let i = 0; i < n; i++) {
          ran = true;
          if (!one(i, i)) break;
        }
        break;
      }
      case 'invalid':
      case 'nil':
        break;
      default:
        this.fail(`range can't iterate over ${formatV(val, this.budget)}`);
    }
    if (!ran && r.elseList) this.walkList(dot, r.elseList);
    this.vars.length = mark;
  }

  private printValue(n: CtxNode, v: unknown): void {
    this.at(n);
    if (kindOf(v) === 'func') this.fail(`can't print ${nodeString(n)} of type func`);
    this.write(formatV(v, this.budget));
  }

  // ---------- variables ----------

  private varValue(name: string): unknown {
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i].name === name) return this.vars[i].value;
    this.fail(`undefined variable: ${name}`);
  }

  private setVar(name: string, value: unknown): void {
    for (let i = this.vars.length - 1; i >= 0; i--)
      if (this.vars[i].name === name) {
        this.vars[i].value = value;
        return;
      }
    this.fail(`undefined variable: ${name}`);
  }

  // ---------- expressions ----------

  private evalPipeline(dot: unknown, pipe: PipeNode): unknown {
    this.at(pipe);
    let value: unknown = MISSING;
    for (const cmd of pipe.cmds) {
      value = this.evalCommand(dot, cmd, value);
      // a nil interface{} unwraps to the invalid value, as Go's evalPipeline does
      if (value === null) value = undefined;
    }
    if (value === MISSING) value = undefined;
    for (const d of pipe.decl) {
      if (pipe.isAssign) this.setVar(d.idents[0], value);
      else this.vars.push({ name: d.idents[0], value });
    }
    return value;
  }

  private notAFunction(args: Arg[], final: Final): void {
    if (args.length > 1 || final !== MISSING) this.fail(`can't give argument to non-function ${argString(args[0])}`);
  }

  private evalCommand(dot: unknown, cmd: CommandNode, final: Final): unknown {
    this.step();
    const first = cmd.args[0];
    switch (first.type) {
      case 'field':
        this.at(first);
        return this.evalFieldChain(dot, dot, first, first.idents, cmd.args, final);
      case 'chain':
        return this.evalChain(dot, first, cmd.args, final);
      case 'identifier':
        return this.evalFunction(dot, first.name, cmd, cmd.args, final);
      case 'pipe':
        this.notAFunction(cmd.args, final);
        return this.evalPipeline(dot, first);
      case 'variable':
        return this.evalVariable(dot, first, cmd.args, final);
    }
    this.at(first);
    this.notAFunction(cmd.args, final);
    switch (first.type) {
      case 'bool':
        return first.value;
      case 'dot':
        return dot;
      case 'nil':
        this.fail('nil is not a command');
        break;
      case 'number':
        return numberValue(first);
      case 'string':
        return first.value;
    }
    this.fail(`can't evaluate command ${argString(first)}`);
  }

  private evalChain(dot: unknown, chain: Extract<Arg, { type: 'chain' }>, args: Arg[], final: Final): unknown {
    this.at(chain);
    if (chain.node.type === 'nil') this.fail(`indirection through explicit nil in ${argString(chain)}`);
    const recv = this.evalArg(dot, chain.node);
    return this.evalFieldChain(dot, recv, chain, chain.fields, args, final);
  }

  private evalVariable(dot: unknown, v: Extract<Arg, { type: 'variable' }>, args: Arg[], final: Final): unknown {
    this.at(v);
    const value = this.varValue(v.idents[0]);
    if (v.idents.length === 1) {
      this.notAFunction(args, final);
      return value;
    }
    return this.evalFieldChain(dot, value, v, v.idents.slice(1), args, final);
  }

  private evalFieldChain(dot: unknown, recv: unknown, node: Arg, idents: string[], args: Arg[], final: Final): unknown {
    for (let i = 0; i < idents.length - 1; i++) recv = this.evalField(dot, idents[i], node, [], MISSING, recv);
    return this.evalField(dot, idents[idents.length - 1], node, args, final, recv);
  }

  /** No at() here: as Go's, errors name the last node evaluated (for a chain, its inner pipeline's). */
  private evalField(dot: unknown, name: string, node: Arg, args: Arg[], final: Final, recv: unknown): unknown {
    const hasArgs = args.length > 1 || final !== MISSING;
    const k = kindOf(recv);
    if (k === 'invalid') {
      if (this.opts.missingKey === 'error') this.fail(`nil data; no entry for key ${JSON.stringify(name)}`);
      return undefined;
    }
    if (k === 'nil') this.fail(`nil pointer evaluating ${typeName(recv)}.${name}`);
    if (k === 'struct') {
      const m = structMember(recv as object, name);
      if (m.kind === 'method' && isExported(name))
        return this.call(dot, name, { params: [], variadic: 'any', fn: (a) => m.fn(...a.map(unbox)) }, node, args.slice(1), final, false);
      if (m.kind === 'field') {
        if (!isExported(name)) this.fail(`${name} is an unexported field of struct type ${typeName(recv)}`);
        // a getter stands for one of docker's context methods, which take no arguments
        if (hasArgs && m.getter) this.fail(`wrong number of args for ${name}: want 0 got ${args.length - 1 + (final !== MISSING ? 1 : 0)}`);
        if (hasArgs) this.fail(`${name} has arguments but cannot be invoked as function`);
        return m.value;
      }
    } else if (k === 'map') {
      if (hasArgs) this.fail(`${name} is not a method but has arguments`);
      if (!mapHas(recv, name)) {
        if (this.opts.missingKey === 'error') this.fail(`map has no entry for key ${JSON.stringify(name)}`);
        return this.opts.missingKey === 'zero' ? null : undefined;
      }
      return mapGet(recv, name);
    }
    this.fail(`can't evaluate field ${name} in type ${typeName(recv)}`);
  }

  private evalFunction(dot: unknown, name: string, cmd: CommandNode, args: Arg[], final: Final): unknown {
    this.at(args[0]);
    const spec = this.opts.funcs.get(name);
    if (!spec) this.fail(`${JSON.stringify(name)} is not a defined function`);
    return this.call(dot, name, spec, cmd, args.slice(1), final, name === 'and' || name === 'or');
  }

  /** Call a function or method with argument nodes (and the pipeline's previous value). */
  private call(dot: unknown, name: string, spec: FuncSpec, node: CtxNode, argNodes: Arg[], final: Final, lazy: boolean): unknown {
    const numIn = argNodes.length + (final !== MISSING ? 1 : 0);
    if (spec.variadic) {
      if (numIn < spec.params.length) {
        this.at(node);
        this.fail(`wrong number of args for ${name}: want at least ${spec.params.length} got ${argNodes.length}`);
      }
    } else if (numIn !== spec.params.length) {
      this.at(node);
      this.fail(`wrong number of args for ${name}: want ${spec.params.length} got ${numIn}`);
    }
    const typeAt = (i: number): 'any' | 'string' | 'int' | 'strings' => spec.params[i] ?? spec.variadic ?? 'any';
    if (lazy) {
      // and/or: evaluate left to right, stop at the first value that decides
      let v: unknown;
      for (const a of argNodes) {
        v = this.evalArg(dot, a);
        if (isTrue(v) === (name === 'or')) return v;
      }
      return final !== MISSING ? final : v;
    }
    const values: unknown[] = [];
    for (let i = 0; i < argNodes.length; i++) {
      const a = argNodes[i];
      const t = typeAt(i);
      if (t !== 'any' && (a.type === 'bool' || a.type === 'number' || a.type === 'string' || a.type === 'nil')) this.checkLiteral(a, t);
      // a typed parameter takes the constant itself (Go: 1e3 is an integer constant too)
      if (t !== 'any' && a.type === 'number') values.push(this.checked(a.value, t, a));
      else values.push(this.checked(this.evalArg(dot, a), t, a));
    }
    if (final !== MISSING) values.push(this.checked(final, typeAt(values.length), node));
    try {
      return spec.fn(values, this.budget);
    } catch (e) {
      if (e instanceof TemplateError) throw e;
      if (e instanceof RangeError && /call stack/i.test(e.message)) throw e;
      this.at(node);
      this.fail(`error calling ${name}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** A literal argument of the wrong type: Go refuses it with the literal's text. */
  private checkLiteral(a: Extract<Arg, { type: 'bool' | 'number' | 'string' | 'nil' }>, t: 'string' | 'int' | 'strings'): void {
    this.at(a);
    if (a.type === 'nil') this.fail(`cannot assign nil to ${t === 'strings' ? '[]string' : t}`);
    if (t === 'string' && a.type !== 'string') this.fail(`expected string; found ${argString(a)}`);
    if (t === 'int' && !(a.type === 'number' && a.isInt)) this.fail(`expected integer; found ${argString(a)}`);
    if (t === 'strings') this.fail(`can't handle ${argString(a)} for arg of type []string`);
  }

  private checked(v: unknown, t: 'any' | 'string' | 'int' | 'strings', node: CtxNode): unknown {
    try {
      return checkArg(v, t);
    } catch (e) {
      if (!(e instanceof ArgTypeError)) throw e;
      this.at(node);
      this.fail(e.message);
    }
  }

  private evalArg(dot: unknown, n: Arg): unknown {
    this.at(n);
    switch (n.type) {
      case 'dot':
        return dot;
      case 'nil':
        return null;
      case 'field':
        return this.evalFieldChain(dot, dot, n, n.idents, [n], MISSING);
      case 'variable':
        return this.evalVariable(dot, n, [n], MISSING);
      case 'pipe':
        return this.evalPipeline(dot, n);
      case 'identifier':
        return this.evalFunction(dot, n.name, { type: 'command', pos: n.pos, args: [n] }, [n], MISSING);
      case 'chain':
        return this.evalChain(dot, n, [n], MISSING);
      case 'bool':
        return n.value;
      case 'number':
        return numberValue(n);
      case 'string':
        return n.value;
    }
  }
}
