/**
 * The parser of Go's text/template, after text/template/parse: actions, pipelines with variable
 * declarations, if/else if/else, with, range (with break/continue), define/template/block, and the
 * parse-time checks Go makes (functions must exist, variables must be declared). Nesting depth and
 * template length are bounded (TemplateLimits) so hostile text fails fast.
 */
import type { Arg, ChainNode, CommandNode, IfNode, ListNode, Node, PipeNode, RangeNode, VariableNode, WithNode } from './ast';
import { DEFAULT_LIMITS, TemplateLimitError, TemplateParseError, type TemplateLimits } from './errors';
import { lex, LexError, type Token } from './lex';
import { parseGoNumber, unquoteChar, unquoteString } from './literals';

export interface ParsedTemplate {
  /** The template's name (docker's is ""). */
  name: string;
  text: string;
  root: ListNode;
  /** Templates named by define/block. */
  defs: Map<string, ListNode>;
}

/** Go's item.String(): EOF, <keyword>, or the quoted text (cut at 10 characters). */
function tokenString(t: Token): string {
  if (t.type === 'eof') return 'EOF';
  if (t.type === 'keyword' || t.type === 'bool' || t.type === 'nil') return `<${t.val}>`;
  const chars = [...t.val];
  if (chars.length > 10) return `${JSON.stringify(chars.slice(0, 10).join(''))}...`;
  return JSON.stringify(t.val);
}

type End = { kind: 'end' | 'else' | 'eof'; tok: Token };

class Parser {
  private i = 0;
  private vars: string[] = ['$'];
  private nesting = 0;
  private rangeDepth = 0;
  readonly defs = new Map<string, ListNode>();

  constructor(
    private readonly name: string,
    private readonly text: string,
    private readonly toks: Token[],
    private readonly funcs: ReadonlySet<string>,
    private readonly limits: TemplateLimits,
  ) {}

  error(pos: number, reason: string): never {
    let line = 1;
    for (let k = 0; k < pos && k < this.text.length; k++) if (this.text.charCodeAt(k) === 10) line++;
    throw new TemplateParseError(this.name, line, reason);
  }

  private next(): Token {
    const t = this.toks[this.i];
    if (this.i < this.toks.length - 1) this.i++;
    return t;
  }
  private peek(): Token {
    return this.toks[this.i];
  }
  private backup(): void {
    this.i--;
  }
  private nextNonSpace(): Token {
    let t = this.next();
    while (t.type === 'space') t = this.next();
    return t;
  }
  private peekNonSpace(): Token {
    const t = this.nextNonSpace();
    this.backup();
    return t;
  }
  private unexpected(t: Token, context: string): never {
    if (t.type === 'eof') this.error(t.pos, `unexpected EOF`);
    this.error(t.pos, `unexpected ${tokenString(t)} in ${context}`);
  }
  private expectRight(context: string): Token {
    const t = this.nextNonSpace();
    if (t.type !== 'right') this.unexpected(t, context);
    return t;
  }
  private enter(): void {
    if (++this.nesting > this.limits.maxNesting) throw new TemplateLimitError('maxNesting', this.limits.maxNesting);
  }

  parseRoot(): ListNode {
    const nodes: Node[] = [];
    for (;;) {
      const t = this.peek();
      if (t.type === 'eof') return { nodes };
      if (t.type === 'left') {
        // define is only allowed at the top level
        const save = this.i;
        this.next();
        const k = this.nextNonSpace();
        if (k.type === 'keyword' && k.val === 'define') {
          this.parseDefine();
          continue;
        }
        this.i = save;
      }
      const r = this.textOrAction();
      if ('kind' in r) this.error(r.tok.pos, `unexpected ${r.kind === 'eof' ? 'EOF' : `{{${r.kind}}}`}`);
      if (r.node) nodes.push(r.node);
    }
  }

  private parseDefine(): void {
    const nameTok = this.nextNonSpace();
    if (nameTok.type !== 'string' && nameTok.type !== 'rawString') this.unexpected(nameTok, 'define clause');
    const name = unquoteString(nameTok.val);
    if (name === undefined) this.error(nameTok.pos, 'invalid syntax');
    this.expectRight('define clause');
    const saved = this.vars;
    this.vars = ['$'];
    const { list, end } = this.itemList();
    this.vars = saved;
    if (end.kind !== 'end') this.error(end.tok.pos, end.kind === 'eof' ? 'unexpected EOF' : `unexpected {{${end.kind}}} in define clause`);
    this.addDef(name, list, nameTok.pos);
  }

  private addDef(name: string, list: ListNode, pos: number): void {
    const old = this.defs.get(name);
    // Go: a redefinition replaces the template unless both are non-empty
    const isEmpty = (l: ListNode): boolean => l.nodes.every((n) => n.type === 'text' && n.text.trim() === '');
    if (old && !isEmpty(old) && isEmpty(list)) return;
    if (old && !isEmpty(old)) this.error(pos, `template: multiple definition of template ${JSON.stringify(name)}`);
    this.defs.set(name, list);
  }

  /** Nodes up to {{end}}, {{else}} or EOF. */
  private itemList(): { list: ListNode; end: End } {
    const nodes: Node[] = [];
    for (;;) {
      const r = this.textOrAction();
      if ('kind' in r) return { list: { nodes }, end: r };
      if (r.node) nodes.push(r.node);
    }
  }

  private textOrAction(): { node?: Node } | End {
    const t = this.next();
    switch (t.type) {
      case 'eof':
        return { kind: 'eof', tok: t };
      case 'text':
        return { node: { type: 'text', text: t.val, pos: t.pos } };
      case 'comment':
        return {};
      case 'left':
        return this.action();
      default:
        this.unexpected(t, 'input');
    }
  }

  private action(): { node?: Node } | End {
    const t = this.nextNonSpace();
    if (t.type === 'keyword') {
      switch (t.val) {
        case 'end':
          this.expectRight('end');
          return { kind: 'end', tok: t };
        case 'else': {
          // "else if" and "else with": the keyword stays pending for the branch parser
          const k = this.peekNonSpace();
          if (k.type === 'keyword' && (k.val === 'if' || k.val === 'with')) return { kind: 'else', tok: t };
          this.expectRight('else');
          return { kind: 'else', tok: t };
        }
        case 'if':
        case 'with':
        case 'range':
          return { node: this.control(t.val, t.pos) };
        case 'block':
          return { node: this.block(t) };
        case 'template':
          return { node: this.templateCall() };
        case 'break':
        case 'continue':
          if (this.rangeDepth === 0) this.error(t.pos, `{{${t.val}}} outside {{range}}`);
          {
            const r = this.nextNonSpace();
            if (r.type !== 'right') this.error(r.pos, `unexpected ${tokenString(r)} in {{${t.val}}}`);
          }
          return { node: { type: t.val, pos: t.pos } };
        case 'define':
          this.error(t.pos, 'unexpected <define> in command');
      }
    }
    this.backup();
    return { node: { type: 'action', pos: t.pos, pipe: this.pipeline('command', 'right') } };
  }

  private control(kind: string, pos: number): IfNode | WithNode | RangeNode {
    this.enter();
    const mark = this.vars.length;
    const pipe = this.pipeline(kind, 'right');
    if (kind === 'range') this.rangeDepth++;
    const { list, end } = this.itemList();
    if (kind === 'range') this.rangeDepth--;
    let elseList: ListNode | undefined;
    if (end.kind === 'eof') this.error(end.tok.pos, 'unexpected EOF');
    if (end.kind === 'else') {
      const k = this.peekNonSpace();
      if (k.type === 'keyword' && ((k.val === 'if' && kind !== 'range') || (k.val === 'with' && kind === 'with'))) {
        // {{if a}}x{{else if b}}y{{end}} is {{if a}}x{{else}}{{if b}}y{{end}}{{end}}: the inner one takes the {{end}}
        this.nextNonSpace();
        elseList = { nodes: [this.control(k.val, k.pos)] };
      } else {
        const r = this.itemList();
        if (r.end.kind !== 'end') this.error(r.end.tok.pos, r.end.kind === 'eof' ? 'unexpected EOF' : `expected end; found {{${r.end.kind}}}`);
        elseList = r.list;
      }
    }
    this.vars.length = mark;
    this.nesting--;
    return { type: kind as 'if', pos, pipe, list, elseList };
  }

  private templateName(context: string): { name: string; pos: number } {
    const t = this.nextNonSpace();
    if (t.type !== 'string' && t.type !== 'rawString') this.unexpected(t, context);
    const name = unquoteString(t.val);
    if (name === undefined) this.error(t.pos, 'invalid syntax');
    return { name, pos: t.pos };
  }

  private templateCall(): Node {
    const { name, pos } = this.templateName('template clause');
    let pipe: PipeNode | undefined;
    if (this.nextNonSpace().type !== 'right') {
      this.backup();
      pipe = this.pipeline('template clause', 'right');
    }
    return { type: 'template', pos, name, pipe };
  }

  private block(t: Token): Node {
    this.enter();
    const { name, pos } = this.templateName('block clause');
    const pipe = this.pipeline('block clause', 'right');
    const saved = this.vars;
    this.vars = ['$'];
    const { list, end } = this.itemList();
    this.vars = saved;
    if (end.kind !== 'end') this.error(end.tok.pos, end.kind === 'eof' ? 'unexpected EOF' : `unexpected {{${end.kind}}} in block clause`);
    this.addDef(name, list, pos);
    this.nesting--;
    return { type: 'template', pos: t.pos, name, pipe };
  }

  private pipeline(context: string, end: 'right' | 'rparen'): PipeNode {
    const start = this.peekNonSpace();
    const pipe: PipeNode = { type: 'pipe', pos: start.pos, isAssign: false, decl: [], cmds: [] };
    // declarations: $x := / $x = / $i, $v := (range)
    for (;;) {
      const v = this.peekNonSpace();
      if (v.type !== 'variable') break;
      const save = this.i;
      this.nextNonSpace();
      const next = this.peekNonSpace();
      if (next.type === 'declare' || next.type === 'assign') {
        this.nextNonSpace();
        pipe.isAssign = next.type === 'assign';
        pipe.decl.push(this.variable(v, pipe.isAssign));
        if (!pipe.isAssign) this.vars.push(v.val);
        break;
      }
      if (next.type === 'comma') {
        this.nextNonSpace();
        pipe.decl.push(this.variable(v, false));
        this.vars.push(v.val);
        if (context === 'range' && pipe.decl.length < 2) {
          const n = this.peekNonSpace();
          if (n.type === 'variable' || n.type === 'right' || n.type === 'rparen') continue;
          this.error(n.pos, 'range can only initialize variables');
        }
        this.error(v.pos, `too many declarations in ${context}`);
      }
      this.i = save;
      break;
    }
    for (;;) {
      const t = this.nextNonSpace();
      if (t.type === end) {
        if (pipe.cmds.length === 0) this.error(t.pos, `missing value for ${context}`);
        for (let k = 1; k < pipe.cmds.length; k++) {
          const first = pipe.cmds[k].args[0];
          if (['bool', 'dot', 'nil', 'number', 'pipe', 'string'].includes(first.type))
            this.error(first.pos, `non executable command in pipeline stage ${k + 1}`);
        }
        return pipe;
      }
      switch (t.type) {
        case 'bool':
        case 'char':
        case 'dot':
        case 'field':
        case 'identifier':
        case 'number':
        case 'nil':
        case 'rawString':
        case 'string':
        case 'variable':
        case 'lparen':
          this.backup();
          pipe.cmds.push(this.command());
          break;
        default:
          this.unexpected(t, context);
      }
    }
  }

  private variable(t: Token, mustExist: boolean): VariableNode {
    const idents = t.val.split('.');
    if (mustExist && !this.vars.includes(idents[0])) this.error(t.pos, `undefined variable ${JSON.stringify(idents[0])}`);
    return { type: 'variable', pos: t.pos, idents };
  }

  private command(): CommandNode {
    const cmd: CommandNode = { type: 'command', pos: this.peekNonSpace().pos, args: [] };
    for (;;) {
      this.peekNonSpace();
      const operand = this.operand();
      if (operand) cmd.args.push(operand);
      const t = this.next();
      if (t.type === 'space') continue;
      if (t.type === 'right' || t.type === 'rparen') {
        this.backup();
        break;
      }
      // Go accepts a trailing pipe ({{.A |}}) as if it were not there
      if (t.type === 'pipe') break;
      this.unexpected(t, 'operand');
    }
    if (cmd.args.length === 0) this.error(cmd.pos, 'empty command');
    return cmd;
  }

  private operand(): Arg | undefined {
    const node = this.term();
    if (!node) return undefined;
    if (this.peek().type !== 'field') return node;
    const fields: string[] = [];
    const chainPos = this.peek().pos;
    while (this.peek().type === 'field') fields.push(...this.next().val.slice(1).split('.'));
    switch (node.type) {
      case 'field':
        return { type: 'field', pos: chainPos, idents: [...node.idents, ...fields] };
      case 'variable':
        return { type: 'variable', pos: chainPos, idents: [...node.idents, ...fields] };
      case 'bool':
      case 'string':
      case 'number':
      case 'nil':
      case 'dot':
        this.error(
          node.pos,
          `unexpected . after term ${JSON.stringify(node.type === 'string' ? node.quoted : node.type === 'number' ? node.text : node.type === 'dot' ? '.' : String(node.type === 'bool' ? node.value : 'nil'))}`,
        );
        break;
      default:
        break;
    }
    const chain: ChainNode = { type: 'chain', pos: chainPos, node, fields };
    return chain;
  }

  private term(): Arg | undefined {
    const t = this.nextNonSpace();
    switch (t.type) {
      case 'identifier':
        if (!this.funcs.has(t.val)) this.error(t.pos, `function ${JSON.stringify(t.val)} not defined`);
        return { type: 'identifier', pos: t.pos, name: t.val };
      case 'dot':
        return { type: 'dot', pos: t.pos };
      case 'nil':
        return { type: 'nil', pos: t.pos };
      case 'variable':
        return this.variable(t, true);
      case 'field':
        return { type: 'field', pos: t.pos, idents: t.val.slice(1).split('.') };
      case 'bool':
        return { type: 'bool', pos: t.pos, value: t.val === 'true' };
      case 'char': {
        const cp = unquoteChar(t.val);
        if (cp === undefined) this.error(t.pos, `malformed character constant: ${t.val}`);
        return { type: 'number', pos: t.pos, text: t.val, value: cp, isInt: true };
      }
      case 'number': {
        if (t.val.endsWith('i')) this.error(t.pos, `complex numbers are not supported: ${JSON.stringify(t.val)}`);
        const n = parseGoNumber(t.val);
        if (!n) this.error(t.pos, `illegal number syntax: ${JSON.stringify(t.val)}`);
        return { type: 'number', pos: t.pos, text: t.val, value: n.value, isInt: n.isInt, isFloat: n.isFloat };
      }
      case 'lparen': {
        this.enter();
        const p = this.pipeline('parenthesized pipeline', 'rparen');
        this.nesting--;
        return p;
      }
      case 'string':
      case 'rawString': {
        const s = unquoteString(t.val);
        if (s === undefined) this.error(t.pos, 'invalid syntax');
        return { type: 'string', pos: t.pos, quoted: t.val, value: s };
      }
      default:
        this.backup();
        return undefined;
    }
  }
}

/** Parse a template. `funcs` are the names of the functions it may call. Throws TemplateParseError / TemplateLimitError. */
export function parseTemplate(text: string, funcs: ReadonlySet<string>, opts: { name?: string; limits?: Partial<TemplateLimits> } = {}): ParsedTemplate {
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const name = opts.name ?? '';
  if (text.length > limits.maxTemplateLength) throw new TemplateLimitError('maxTemplateLength', limits.maxTemplateLength);
  let toks: Token[];
  try {
    toks = lex(text);
  } catch (e) {
    if (!(e instanceof LexError)) throw e;
    const line = 1 + (text.slice(0, e.pos).match(/\n/g)?.length ?? 0);
    throw new TemplateParseError(name, line, e.reason);
  }
  const p = new Parser(name, text, toks, funcs, limits);
  const root = p.parseRoot();
  return { name, text, root, defs: p.defs };
}
