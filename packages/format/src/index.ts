export { Template, type TemplateFunc, type TemplateOptions, type ExecuteOptions } from './template/template';
export { TemplateError, TemplateParseError, TemplateExecError, TemplateLimitError, DEFAULT_LIMITS, type TemplateLimits } from './template/errors';
export { goQuote, goQuoteRune } from './template/quote';
export type { MissingKey } from './template/exec';
export { BUILTINS, DOCKER_FUNCS, DOCKER_HEADER_FUNCS, type FuncSpec, type ParamType } from './template/funcs';
export { sprintf, formatFloat } from './template/fmt';
export { tabwrite, DOCKER_TABWRITER, type TabwriterOptions } from './tabwriter';
export { humanSize, humanSizeWithPrecision, bytesSize, humanDuration } from './units';
export {
  truncateId,
  ellipsis,
  formatCommand,
  displayablePorts,
  containerStatus,
  timeAgo,
  containerNames,
  type ApiPort,
  type ContainerStateLike,
} from './docker';
export { DockerFormat, type DockerFormatOptions } from './docker-format';
export type {
  Node,
  ListNode,
  TextNode,
  ActionNode,
  IfNode,
  WithNode,
  RangeNode,
  TemplateNode,
  BreakNode,
  ContinueNode,
  PipeNode,
  CommandNode,
  Arg,
  FieldNode,
  VariableNode,
  DotNode,
  NilNode,
  BoolNode,
  NumberNode,
  StringNode,
  IdentifierNode,
  ChainNode,
  Pos,
} from './template/ast';
export type { ParsedTemplate } from './template/parse';
