export { parseDockerfile } from './dockerfile';
export type { Dockerfile, Stage } from './dockerfile';
export { DockerfileSyntaxError, UnknownTargetError, InvalidChangeError, InstructionValueError } from './errors';
export { INSTRUCTION_KINDS } from './instructions';
export type {
  Instruction,
  InstructionKind,
  CommandLine,
  Heredoc,
  InlineSource,
  KeyValue,
  ArgDecl,
  HealthConfig,
  FromInstruction,
  RunInstruction,
  CmdInstruction,
  EntrypointInstruction,
  ShellInstruction,
  CopyInstruction,
  AddInstruction,
  EnvInstruction,
  LabelInstruction,
  ArgInstruction,
  WorkdirInstruction,
  UserInstruction,
  ExposeInstruction,
  VolumeInstruction,
  StopSignalInstruction,
  HealthcheckInstruction,
  OnbuildInstruction,
  MaintainerInstruction,
} from './instructions';
export { expandWord, expandWords, expandInstruction, isExpanded } from './expand';
export type { Env } from './expand';
export { ShellExpansionError } from './shell-lex';
export { compileDockerignore, readDockerignore, DockerignoreError } from './dockerignore';
export type { IgnoreMatcher, IgnorePattern } from './dockerignore';
export { matchGlob, hasGlob, cleanPath, BadPatternError } from './glob';
export { parseDuration, formatDuration } from './duration';
export { stagesFor, stageDependencies, resolveFrom } from './stages';
export type { StageOptions } from './stages';
export { BuildArgs, StageArgs, PROXY_ARGS } from './build-args';
export type { BuildArgValues } from './build-args';
export { applyToConfig, resolveCommand, healthcheckConfig, DEFAULT_SHELL } from './config';
export type { ApplyState, ApplyOptions } from './config';
export { parseChanges } from './changes';
export { historyCreatedBy, multiSourceHash } from './history';
export type { HistoryContext } from './history';
export { checkSignal } from './signals';
