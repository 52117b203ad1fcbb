/**
 * The typed instructions: the second pass, as BuildKit's frontend/dockerfile/instructions checks
 * each one (argument counts, flags, FROM's stage name, HEALTHCHECK's options, SHELL's JSON form).
 *
 * Values are as written: quotes and `$VAR`s are still in ENV/LABEL/ARG values, COPY/ADD paths,
 * WORKDIR, USER, EXPOSE, VOLUME and STOPSIGNAL, because Docker expands them only when it runs the
 * instruction, with the environment of that moment (see `expandInstruction`).
 */
import { formatDuration, parseDuration } from './duration';
import { parseFlags } from './flags';
import { parseHeredoc, type Heredoc, type RawNode } from './parser';

export type { Heredoc } from './parser';

/** RUN, CMD and ENTRYPOINT's two forms. */
export type CommandLine = { form: 'exec'; argv: string[] } | { form: 'shell'; command: string };

interface Base {
  /** 1-based line the instruction starts on. */
  line: number;
  /** Its last line (continuations, heredocs). */
  endLine: number;
  /** The instruction's text, continuation lines joined, as `Step N/M : <original>` prints it. */
  original: string;
  /** The keyword as written (`from`, `FROM`). */
  keyword: string;
}

export interface FromInstruction extends Base {
  kind: 'FROM';
  /** The base: an image reference, `scratch` or an earlier stage's name; may hold `$ARG`s. */
  image: string;
  /** `AS name`, lower-cased as Docker does. */
  stageName?: string;
  platform?: string;
}

export interface RunInstruction extends Base {
  kind: 'RUN';
  command: CommandLine;
  heredocs: Heredoc[];
  /** `--mount=...` values as written (BuildKit's; the classic builder refuses them). */
  mounts: string[];
  network?: string;
  security?: string;
  devices: string[];
  /** The flags given (names), as the classic builder refuses any. */
  flagsUsed: string[];
}

export interface CmdInstruction extends Base {
  kind: 'CMD';
  command: CommandLine;
}

export interface EntrypointInstruction extends Base {
  kind: 'ENTRYPOINT';
  command: CommandLine;
}

export interface ShellInstruction extends Base {
  kind: 'SHELL';
  shell: string[];
}

/** A COPY/ADD source given inline by a heredoc (`COPY <<EOF /file`). */
export interface InlineSource {
  /** The heredoc's name: the file name it is written as. */
  path: string;
  data: string;
  /** Expand `$VAR`s in the data (the delimiter was not quoted). */
  expand: boolean;
}

interface CopyBase extends Base {
  /** Source paths or URLs (ADD), as written. */
  sources: string[];
  /** Heredoc sources. */
  inline: InlineSource[];
  dest: string;
  chown?: string;
  chmod?: string;
  link: boolean;
  exclude: string[];
  /** The arguments were a JSON array. */
  json: boolean;
}

export interface CopyInstruction extends CopyBase {
  kind: 'COPY';
  /** `--from=<stage name | stage index | image>`. */
  from?: string;
  parents: boolean;
}

export interface AddInstruction extends CopyBase {
  kind: 'ADD';
  checksum?: string;
  keepGitDir?: boolean;
  unpack?: boolean;
}

export interface KeyValue {
  key: string;
  value: string;
  /** The legacy `ENV key value` form (no `=`). */
  legacy: boolean;
}

export interface EnvInstruction extends Base {
  kind: 'ENV';
  pairs: KeyValue[];
}

export interface LabelInstruction extends Base {
  kind: 'LABEL';
  pairs: KeyValue[];
}

export interface ArgDecl {
  key: string;
  /** The default, when given (`ARG A=1`); `ARG A=` has the default ''. */
  value?: string;
}

export interface ArgInstruction extends Base {
  kind: 'ARG';
  args: ArgDecl[];
}

export interface WorkdirInstruction extends Base {
  kind: 'WORKDIR';
  path: string;
}

export interface UserInstruction extends Base {
  kind: 'USER';
  user: string;
}

export interface ExposeInstruction extends Base {
  kind: 'EXPOSE';
  /** As written, sorted (Docker sorts them). */
  ports: string[];
}

export interface VolumeInstruction extends Base {
  kind: 'VOLUME';
  volumes: string[];
}

export interface StopSignalInstruction extends Base {
  kind: 'STOPSIGNAL';
  signal: string;
}

/** The image config's Healthcheck (durations in nanoseconds; 0 or absent means the default). */
export interface HealthConfig {
  /** `["NONE"]`, `["CMD", ...argv]` or `["CMD-SHELL", command]`. */
  test: string[];
  interval?: number;
  timeout?: number;
  startPeriod?: number;
  startInterval?: number;
  retries?: number;
}

export interface HealthcheckInstruction extends Base {
  kind: 'HEALTHCHECK';
  health: HealthConfig;
}

export interface OnbuildInstruction extends Base {
  kind: 'ONBUILD';
  /** The trigger's text as stored in the image config's OnBuild (heredoc bodies appended). */
  expression: string;
  /** The trigger parsed, when it is a valid instruction (Docker checks that only when it fires). */
  trigger?: Instruction;
}

export interface MaintainerInstruction extends Base {
  kind: 'MAINTAINER';
  maintainer: string;
}

export type Instruction =
  | FromInstruction
  | RunInstruction
  | CmdInstruction
  | EntrypointInstruction
  | CopyInstruction
  | AddInstruction
  | EnvInstruction
  | ArgInstruction
  | WorkdirInstruction
  | UserInstruction
  | LabelInstruction
  | ExposeInstruction
  | VolumeInstruction
  | StopSignalInstruction
  | HealthcheckInstruction
  | OnbuildInstruction
  | ShellInstruction
  | MaintainerInstruction;

export type InstructionKind = Instruction['kind'];

export const INSTRUCTION_KINDS: readonly InstructionKind[] = [
  'ADD',
  'ARG',
  'CMD',
  'COPY',
  'ENTRYPOINT',
  'ENV',
  'EXPOSE',
  'FROM',
  'HEALTHCHECK',
  'LABEL',
  'MAINTAINER',
  'ONBUILD',
  'RUN',
  'SHELL',
  'STOPSIGNAL',
  'USER',
  'VOLUME',
  'WORKDIR',
];

/** A second-pass refusal; the caller adds the line. */
export class InstructionError extends Error {}

// the flags each instruction takes (BuildKit's), and their kinds
type FlagSpec = Parameters<typeof parseFlags>[1];
const ADD_FLAGS: FlagSpec = { chown: 'string', chmod: 'string', link: 'bool', 'keep-git-dir': 'bool', checksum: 'string', unpack: 'bool', exclude: 'strings' };
const COPY_FLAGS: FlagSpec = { chown: 'string', from: 'string', chmod: 'string', link: 'bool', exclude: 'strings', parents: 'bool' };
const FROM_FLAGS: FlagSpec = { platform: 'string' };
const RUN_FLAGS: FlagSpec = { mount: 'strings', network: 'string', security: 'string', device: 'strings' };
const HEALTHCHECK_FLAGS: FlagSpec = { interval: 'string', timeout: 'string', 'start-period': 'string', 'start-interval': 'string', retries: 'string' };

const VALID_STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;

function fail(message: string): never {
  throw new InstructionError(message);
}

function commandLine(args: string[], json: boolean): CommandLine {
  return json ? { form: 'exec', argv: args } : { form: 'shell', command: args.join(' ') };
}

function flagsOf(node: RawNode, spec: FlagSpec): ReturnType<typeof parseFlags> {
  try {
    return parseFlags(node.flags, spec);
  } catch (e) {
    return fail((e as Error).message);
  }
}

function kvps(args: string[], name: string): KeyValue[] {
  if (args.length === 0) fail(`${name} requires at least one argument`);
  if (args.length % 3 !== 0) fail(`Bad input to ${name}, too many arguments`);
  const out: KeyValue[] = [];
  for (let j = 0; j < args.length; j += 3) {
    if (args[j] === '') fail(`${name} names can not be blank`);
    out.push({ key: args[j]!, value: args[j + 1]!, legacy: args[j + 2] === '' });
  }
  return out;
}

function copyBase(node: RawNode, name: 'COPY' | 'ADD'): Omit<CopyBase, keyof Base | 'chown' | 'chmod' | 'link' | 'exclude'> {
  if (node.args.length < 2) fail(`${name} requires at least two arguments, but only one was provided. Destination could not be determined`);
  const dest = node.args[node.args.length - 1]!;
  if (parseHeredocSafe(dest)) fail(`${name} cannot accept a heredoc as a destination`);
  const byName = new Map(node.heredocs.map((h) => [h.name, h]));
  const sources: string[] = [];
  const inline: InlineSource[] = [];
  for (const src of node.args.slice(0, -1)) {
    const doc = node.json ? undefined : parseHeredocSafe(src);
    if (doc) {
      let data = byName.get(doc.name)?.content ?? '';
      if (doc.chomp) data = data.replace(/^\t+/gm, '');
      inline.push({ path: doc.name, data, expand: doc.expand });
    } else sources.push(src);
  }
  return { sources, inline, dest, json: node.json };
}

function parseHeredocSafe(word: string): Heredoc | undefined {
  try {
    return parseHeredoc(word);
  } catch {
    return undefined;
  }
}

function exactlyOne(node: RawNode, name: string): string {
  if (node.args.length !== 1) fail(`${name} requires exactly one argument`);
  return node.args[0]!;
}

const NO_FLAGS = {} as const;
function noFlags(node: RawNode): void {
  flagsOf(node, NO_FLAGS);
}

function durationFlag(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  let d: number;
  try {
    d = parseDuration(value);
  } catch (e) {
    return fail((e as Error).message);
  }
  if (d === 0) return undefined;
  if (d < 1e6) fail(`Interval "${name}" cannot be less than ${formatDuration(1e6)}`);
  return d;
}

/**
 * The instruction-specific fields with the common ones added. Assigned after the literal on
 * purpose: `{ ...base, kind, ... }` made V8 build each object on its slow path (30× slower, which
 * a 1 MB Dockerfile of one-line instructions turns into seconds).
 */
function at<T extends object>(node: RawNode, fields: T): T & Base {
  const o = fields as T & Base;
  o.line = node.startLine;
  o.endLine = node.endLine;
  o.original = node.original;
  o.keyword = node.keyword;
  return o;
}

/** One raw node as its typed instruction; throws InstructionError with Docker's message. */
export function toInstruction(node: RawNode): Instruction {
  const args = node.args;
  switch (node.keyword.toLowerCase()) {
    case 'env':
      noFlags(node);
      return at(node, { kind: 'ENV', pairs: kvps(args, 'ENV') });
    case 'label':
      noFlags(node);
      return at(node, { kind: 'LABEL', pairs: kvps(args, 'LABEL') });
    case 'maintainer': {
      const maintainer = exactlyOne(node, 'MAINTAINER');
      noFlags(node);
      return at(node, { kind: 'MAINTAINER', maintainer });
    }
    case 'add': {
      const cb = copyBase(node, 'ADD');
      const f = flagsOf(node, ADD_FLAGS);
      const add: AddInstruction = at(node, {
        kind: 'ADD' as const,
        sources: cb.sources,
        inline: cb.inline,
        dest: cb.dest,
        json: cb.json,
        link: f.bools.get('link') ?? false,
        exclude: f.lists.get('exclude') ?? [],
      });
      setIf(add, 'chown', f.strings.get('chown'));
      setIf(add, 'chmod', f.strings.get('chmod'));
      setIf(add, 'checksum', f.strings.get('checksum'));
      if (f.used.has('keep-git-dir')) add.keepGitDir = f.bools.get('keep-git-dir')!;
      if (f.used.has('unpack')) add.unpack = f.bools.get('unpack')!;
      return add;
    }
    case 'copy': {
      const cb = copyBase(node, 'COPY');
      const f = flagsOf(node, COPY_FLAGS);
      const copy: CopyInstruction = at(node, {
        kind: 'COPY' as const,
        sources: cb.sources,
        inline: cb.inline,
        dest: cb.dest,
        json: cb.json,
        link: f.bools.get('link') ?? false,
        parents: f.bools.get('parents') ?? false,
        exclude: f.lists.get('exclude') ?? [],
      });
      setIf(copy, 'chown', f.strings.get('chown'));
      setIf(copy, 'chmod', f.strings.get('chmod'));
      setIf(copy, 'from', f.strings.get('from'));
      return copy;
    }
    case 'from': {
      let stageName: string | undefined;
      if (args.length === 3 && args[1]!.toLowerCase() === 'as') {
        stageName = args[2]!.toLowerCase();
        if (!VALID_STAGE_NAME.test(stageName))
          fail(`invalid name for build stage: ${JSON.stringify(args[2])}, name can't start with a number or contain symbols`);
      } else if (args.length !== 1) fail('FROM requires either one or three arguments');
      const f = flagsOf(node, FROM_FLAGS);
      const from: FromInstruction = at(node, { kind: 'FROM' as const, image: args[0]! });
      from.original = node.original.trim();
      setIf(from, 'stageName', stageName);
      setIf(from, 'platform', f.strings.get('platform') || undefined);
      return from;
    }
    case 'onbuild': {
      if (args.length === 0) fail('ONBUILD requires at least one argument');
      noFlags(node);
      const trigger = args[0]!.trim().toUpperCase();
      if (trigger === 'ONBUILD') fail("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
      if (trigger === 'MAINTAINER' || trigger === 'FROM') fail(`${trigger} isn't allowed as an ONBUILD trigger`);
      let expression = node.original.replace(/^\s*ONBUILD\s*/i, '');
      for (const h of node.heredocs) expression += `\n${h.content}${h.name}`;
      const onbuild: OnbuildInstruction = at(node, { kind: 'ONBUILD' as const, expression });
      if (node.child) {
        try {
          onbuild.trigger = toInstruction({ ...node.child, heredocs: node.heredocs, startLine: node.startLine, endLine: node.endLine });
        } catch (e) {
          if (!(e instanceof InstructionError)) throw e;
        }
      }
      return onbuild;
    }
    case 'workdir': {
      const path = exactlyOne(node, 'WORKDIR');
      noFlags(node);
      return at(node, { kind: 'WORKDIR', path });
    }
    case 'run': {
      const f = flagsOf(node, RUN_FLAGS);
      const run: RunInstruction = at(node, {
        kind: 'RUN' as const,
        command: commandLine(args, node.json),
        heredocs: node.heredocs.length === 0 ? [] : node.heredocs.map((h) => ({ ...h })),
        mounts: f.lists.get('mount') ?? [],
        devices: f.lists.get('device') ?? [],
        flagsUsed: f.used.size === 0 ? [] : [...f.used],
      });
      setIf(run, 'network', f.strings.get('network'));
      setIf(run, 'security', f.strings.get('security'));
      return run;
    }
    case 'cmd':
      noFlags(node);
      return at(node, { kind: 'CMD', command: commandLine(args, node.json) });
    case 'entrypoint':
      noFlags(node);
      return at(node, { kind: 'ENTRYPOINT', command: commandLine(args, node.json) });
    case 'healthcheck':
      return at(node, { kind: 'HEALTHCHECK', health: healthcheck(node) });
    case 'expose':
      if (args.length === 0) fail('EXPOSE requires at least one argument');
      noFlags(node);
      return at(node, { kind: 'EXPOSE', ports: [...args].sort() });
    case 'user': {
      const user = exactlyOne(node, 'USER');
      noFlags(node);
      return at(node, { kind: 'USER', user });
    }
    case 'volume': {
      if (args.length === 0) fail('VOLUME requires at least one argument');
      noFlags(node);
      const volumes = args.map((v) => v.trim());
      if (volumes.some((v) => v === '')) fail('VOLUME specified can not be an empty string');
      return at(node, { kind: 'VOLUME', volumes });
    }
    case 'stopsignal':
      return at(node, { kind: 'STOPSIGNAL', signal: exactlyOne(node, 'STOPSIGNAL') });
    case 'arg': {
      if (args.length === 0) fail('ARG requires at least one argument');
      const decls = args.map((arg): ArgDecl => {
        const eq = arg.indexOf('=');
        if (eq < 0) return { key: arg };
        if (eq === 0) fail('ARG names can not be blank');
        return { key: arg.slice(0, eq), value: arg.slice(eq + 1) };
      });
      return at(node, { kind: 'ARG', args: decls });
    }
    case 'shell':
      noFlags(node);
      if (args.length === 0) fail('SHELL requires at least one argument');
      if (!node.json) fail('SHELL requires the arguments to be in JSON form');
      return at(node, { kind: 'SHELL', shell: args });
    default:
      return fail(`unknown instruction: ${node.keyword}`);
  }
}

function healthcheck(node: RawNode): HealthConfig {
  if (node.args.length === 0) fail('HEALTHCHECK requires at least one argument');
  const typ = node.args[0]!.toUpperCase();
  const rest = node.args.slice(1);
  if (typ === 'NONE') {
    if (rest.length !== 0) fail('HEALTHCHECK NONE takes no arguments');
    return { test: ['NONE'] };
  }
  const f = flagsOf(node, HEALTHCHECK_FLAGS);
  if (typ !== 'CMD') fail(`Unknown type ${JSON.stringify(typ)} in HEALTHCHECK (try CMD)`);
  const cmd = node.json ? rest : rest.length === 0 ? [] : [rest.join(' ')];
  if (cmd.length === 0) fail('Missing command after HEALTHCHECK CMD');
  const health: HealthConfig = { test: [node.json ? 'CMD' : 'CMD-SHELL', ...cmd] };
  setIf(health, 'interval', durationFlag(f.strings.get('interval'), 'interval'));
  setIf(health, 'timeout', durationFlag(f.strings.get('timeout'), 'timeout'));
  setIf(health, 'startPeriod', durationFlag(f.strings.get('start-period'), 'start-period'));
  setIf(health, 'startInterval', durationFlag(f.strings.get('start-interval'), 'start-interval'));
  const retries = f.strings.get('retries');
  if (retries !== undefined && retries !== '') {
    if (!/^[+-]?[0-9]+$/.test(retries)) fail(`strconv.ParseInt: parsing ${JSON.stringify(retries)}: invalid syntax`);
    const n = Number(retries);
    if (n > 2 ** 31 - 1 || n < -(2 ** 31)) fail(`strconv.ParseInt: parsing ${JSON.stringify(retries)}: value out of range`);
    if (n < 0) fail(`--retries cannot be negative (${n})`);
    if (n > 0) health.retries = n;
  }
  return health;
}

/** Set an optional property only when there is a value (exactOptionalPropertyTypes-friendly, and tidy JSON). */
function setIf<T extends object, K extends keyof T>(obj: T, key: K, value: T[K] | undefined): void {
  if (value !== undefined) obj[key] = value;
}
