/** The parse tree of a template, as Go's text/template/parse names its nodes. */

export interface Pos {
  /** Offset of the node in the template text. */
  pos: number;
}

export type Node = TextNode | ActionNode | IfNode | WithNode | RangeNode | TemplateNode | BreakNode | ContinueNode;

export interface ListNode {
  nodes: Node[];
}

export interface TextNode extends Pos {
  type: 'text';
  text: string;
}

export interface ActionNode extends Pos {
  type: 'action';
  pipe: PipeNode;
}

interface Branch extends Pos {
  pipe: PipeNode;
  list: ListNode;
  elseList?: ListNode;
}

export interface IfNode extends Branch {
  type: 'if';
}
export interface WithNode extends Branch {
  type: 'with';
}
export interface RangeNode extends Branch {
  type: 'range';
}

export interface TemplateNode extends Pos {
  type: 'template';
  name: string;
  pipe?: PipeNode;
}

export interface BreakNode extends Pos {
  type: 'break';
}
export interface ContinueNode extends Pos {
  type: 'continue';
}

export interface PipeNode extends Pos {
  type: 'pipe';
  isAssign: boolean;
  decl: VariableNode[];
  cmds: CommandNode[];
}

export interface CommandNode extends Pos {
  type: 'command';
  args: Arg[];
}

export type Arg = FieldNode | VariableNode | DotNode | NilNode | BoolNode | NumberNode | StringNode | IdentifierNode | ChainNode | PipeNode;

/** `.A.B`: idents ['A', 'B']. */
export interface FieldNode extends Pos {
  type: 'field';
  idents: string[];
}
/** `$x.A`: idents ['$x', 'A']. */
export interface VariableNode extends Pos {
  type: 'variable';
  idents: string[];
}
export interface DotNode extends Pos {
  type: 'dot';
}
export interface NilNode extends Pos {
  type: 'nil';
}
export interface BoolNode extends Pos {
  type: 'bool';
  value: boolean;
}
export interface NumberNode extends Pos {
  type: 'number';
  text: string;
  value: number;
  isInt: boolean;
  /** Go types the constant float64 (written with a point or an exponent, not hex, not a char). */
  isFloat?: boolean;
}
export interface StringNode extends Pos {
  type: 'string';
  quoted: string;
  value: string;
}
export interface IdentifierNode extends Pos {
  type: 'identifier';
  name: string;
}
/** `(pipeline).A.B`. */
export interface ChainNode extends Pos {
  type: 'chain';
  node: Arg;
  fields: string[];
}

/** The text of an argument node, as Go's String() methods print it (used in error contexts). */
export function argString(a: Arg): string {
  switch (a.type) {
    case 'field':
      return a.idents.map((i) => '.' + i).join('');
    case 'variable':
      return a.idents.join('.');
    case 'dot':
      return '.';
    case 'nil':
      return 'nil';
    case 'bool':
      return String(a.value);
    case 'number':
      return a.text;
    case 'string':
      return a.quoted;
    case 'identifier':
      return a.name;
    case 'chain': {
      const inner = a.node.type === 'pipe' ? `(${pipeString(a.node)})` : argString(a.node);
      return inner + a.fields.map((f) => '.' + f).join('');
    }
    case 'pipe':
      return `(${pipeString(a)})`;
  }
}

export function commandString(c: CommandNode): string {
  return c.args.map(argString).join(' ');
}

export function pipeString(p: PipeNode): string {
  let s = '';
  if (p.decl.length > 0) s = p.decl.map((d) => d.idents.join('.')).join(', ') + (p.isAssign ? ' = ' : ' := ');
  return s + p.cmds.map(commandString).join(' | ');
}
