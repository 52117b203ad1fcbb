/**
 * The Dockerfile as the executor sees it: stages of instructions. A stand-in parser until
 * @gantry/dockerfile is merged: lines, `\` continuations, comments, flags, JSON (exec) form and
 * `${VAR}`/`$VAR` expansion with `:-`/`:+` defaults.
 */
import { BuildError } from './output';

export interface Instruction {
  /** Upper case: FROM, RUN, COPY, ... */
  keyword: string;
  /** Exec (JSON) form: its elements; shell form: the rest of the line for RUN/CMD/ENTRYPOINT/SHELL/HEALTHCHECK, else its words. */
  args: string[];
  json: boolean;
  /** `--name=value` flags before the arguments. */
  flags: Record<string, string>;
  /** The instruction as written, continuations joined (what "Step n/m :" shows). */
  original: string;
  line: number;
}

export interface Stage {
  index: number;
  /** `FROM image AS name`, lower-cased. */
  name?: string;
  from: Instruction;
  instructions: Instruction[];
}

export interface ParsedDockerfile {
  /** ARGs before the first FROM (usable in FROM lines). */
  globalArgs: Instruction[];
  stages: Stage[];
}

const KNOWN = new Set([
  'FROM',
  'RUN',
  'CMD',
  'LABEL',
  'MAINTAINER',
  'EXPOSE',
  'ENV',
  'ADD',
  'COPY',
  'ENTRYPOINT',
  'VOLUME',
  'USER',
  'WORKDIR',
  'ARG',
  'ONBUILD',
  'STOPSIGNAL',
  'HEALTHCHECK',
  'SHELL',
]);
const REST_OF_LINE = new Set(['RUN', 'CMD', 'ENTRYPOINT', 'SHELL', 'HEALTHCHECK', 'MAINTAINER', 'ONBUILD']);

export function parseDockerfile(text: string): ParsedDockerfile {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  const instrs: Instruction[] = [];
  for (let i = 0; i < lines.length; i++) {
    let cur = lines[i]!;
    const start = i + 1;
    if (/^\s*(#.*)?$/.test(cur)) continue;
    while (/\\\s*$/.test(cur) && i + 1 < lines.length) {
      cur = cur.replace(/\\\s*$/, '');
      i++;
      const next = lines[i]!;
      if (/^\s*#/.test(next)) continue;
      cur += next;
    }
    const m = /^\s*(\S+)\s*([\s\S]*)$/.exec(cur)!;
    const keyword = m[1]!.toUpperCase();
    if (!KNOWN.has(keyword)) throw new BuildError(`dockerfile parse error on line ${start}: unknown instruction: ${m[1]}`);
    let rest = m[2]!.trim();
    const flags: Record<string, string> = {};
    for (
      let f = /^--([a-z-]+)(?:=(\S*))?\s*/.exec(rest);
      f && ['COPY', 'ADD', 'FROM', 'RUN', 'HEALTHCHECK'].includes(keyword);
      f = /^--([a-z-]+)(?:=(\S*))?\s*/.exec(rest)
    ) {
      flags[f[1]!] = f[2] ?? 'true';
      rest = rest.slice(f[0].length);
    }
    let args: string[];
    let json = false;
    const parsed = rest.startsWith('[') ? tryJson(rest) : undefined;
    if (parsed) {
      args = parsed;
      json = true;
    } else args = REST_OF_LINE.has(keyword) ? (rest ? [rest] : []) : rest.split(/\s+/).filter(Boolean);
    instrs.push({ keyword, args, json, flags, original: `${m[1]} ${m[2]!.trim()}`.trim(), line: start });
  }
  const out: ParsedDockerfile = { globalArgs: [], stages: [] };
  for (const ins of instrs) {
    if (ins.keyword === 'FROM') {
      if (ins.args.length !== 1 && !(ins.args.length === 3 && ins.args[1]!.toUpperCase() === 'AS'))
        throw new BuildError(`dockerfile parse error on line ${ins.line}: FROM requires either one or three arguments`);
      out.stages.push({ index: out.stages.length, ...(ins.args[2] ? { name: ins.args[2].toLowerCase() } : {}), from: ins, instructions: [] });
    } else if (out.stages.length === 0) {
      if (ins.keyword !== 'ARG') throw new BuildError(`dockerfile parse error on line ${ins.line}: no build stage in current context`);
      out.globalArgs.push(ins);
    } else out.stages[out.stages.length - 1]!.instructions.push(ins);
  }
  if (out.stages.length === 0) throw new BuildError('the Dockerfile (Dockerfile) cannot be empty');
  return out;
}

function tryJson(s: string): string[] | undefined {
  try {
    const v: unknown = JSON.parse(s);
    return Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : undefined;
  } catch {
    return undefined;
  }
}

/** `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR:+alt}`; `\$` stays a literal `$`. */
export function expand(word: string, env: ReadonlyMap<string, string>): string {
  return word.replace(
    /\\\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:[-+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (all, name?: string, op?: string, arg?: string, bare?: string) => {
      if (all === '\\$') return '$';
      const key = name ?? bare!;
      const v = env.get(key);
      if (op === ':-') return v ? v : (arg ?? '');
      if (op === ':+') return v ? (arg ?? '') : '';
      return v ?? '';
    },
  );
}
