/**
 * Expansion of `$VAR`s in instructions, as Docker does it just before running each one: which
 * instructions, which of their fields, and with which lexer settings.
 *
 * Expanded: ENV and LABEL (keys and values), ARG (names and defaults), COPY/ADD (sources, dest,
 * --chown, --chmod, ADD's --checksum; heredoc bodies whose delimiter was not quoted), WORKDIR,
 * USER, VOLUME, STOPSIGNAL, EXPOSE (where one word may become several ports), FROM (image and
 * --platform, with the global ARGs). Not expanded: RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK,
 * ONBUILD and MAINTAINER.
 */
import type { Instruction, KeyValue } from './instructions';
import { processWord, processWords, type Env } from './shell-lex';

export type { Env } from './shell-lex';

/** `$VAR`, `${VAR:-default}`... in one word, with Docker's quoting and escapes (ProcessWord). */
export function expandWord(word: string, env: Env, escapeChar = '\\'): string {
  return processWord(word, env, { escapeChar });
}

/** The words of an expanded text, split on unquoted white space (ProcessWords: EXPOSE's rule). */
export function expandWords(text: string, env: Env, escapeChar = '\\'): string[] {
  return processWords(text, env, { escapeChar });
}

const EXPANDED = new Set<Instruction['kind']>(['ADD', 'ARG', 'COPY', 'ENV', 'EXPOSE', 'FROM', 'LABEL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR']);

/** Whether Docker expands variables in this kind of instruction at all. */
export function isExpanded(kind: Instruction['kind']): boolean {
  return EXPANDED.has(kind);
}

/**
 * The instruction with its variables expanded in `env` (for a stage's instruction: the
 * config's Env and the build args in scope, `expansionEnv`; for FROM: the global ARGs,
 * `globalArgEnv`). Kinds that are not expanded come back unchanged. Throws ShellExpansionError.
 */
export function expandInstruction<T extends Instruction>(instr: T, env: Env, escapeChar = '\\'): T {
  const w = (s: string): string => expandWord(s, env, escapeChar);
  const opt = (s: string | undefined): string | undefined => (s === undefined ? undefined : w(s));
  const pairs = (ps: KeyValue[]): KeyValue[] => ps.map((p) => ({ ...p, key: w(p.key), value: w(p.value) }));
  const i: Instruction = instr;
  switch (i.kind) {
    case 'ENV':
    case 'LABEL':
      return { ...i, pairs: pairs(i.pairs) } as T;
    case 'ARG':
      return { ...i, args: i.args.map((a) => (a.value === undefined ? { key: w(a.key) } : { key: w(a.key), value: w(a.value) })) } as T;
    case 'COPY':
    case 'ADD': {
      const out = {
        ...i,
        sources: i.sources.map(w),
        dest: w(i.dest),
        // heredoc bodies: backslash escapes and `$VAR`s, quotes left alone
        inline: i.inline.map((s) => (s.expand ? { ...s, data: processWord(s.data, env, { skipProcessQuotes: true }) } : s)),
      };
      if (i.chown !== undefined) out.chown = opt(i.chown)!;
      if (i.chmod !== undefined) out.chmod = opt(i.chmod)!;
      if (out.kind === 'ADD' && out.checksum !== undefined) out.checksum = w(out.checksum);
      return out as T;
    }
    case 'WORKDIR':
      return { ...i, path: w(i.path) } as T;
    case 'USER':
      return { ...i, user: w(i.user) } as T;
    case 'VOLUME':
      return { ...i, volumes: i.volumes.map(w) } as T;
    case 'STOPSIGNAL':
      return { ...i, signal: w(i.signal) } as T;
    case 'EXPOSE':
      return { ...i, ports: i.ports.flatMap((p) => expandWords(p, env, escapeChar)) } as T;
    case 'FROM': {
      const out = { ...i, image: w(i.image) };
      if (i.platform !== undefined) out.platform = w(i.platform);
      return out as T;
    }
    default:
      return instr;
  }
}
