/**
 * The `created_by` of each history entry the classic builder writes, so that `docker history`
 * of a Gantry-built image reads as it would from Docker:
 *
 * - metadata instructions: `<shell> #(nop)  CMD ["sh"]` (the config's shell, two spaces),
 * - WORKDIR, COPY and ADD: `<shell> #(nop) WORKDIR /app`, `<shell> #(nop) COPY file:<sha256> in /dst `
 *   (one space; COPY's comment ends with a space, `--chown=` is glued to the hash as in Docker),
 * - RUN: the command as run, after `|N K=v ...` when build args are in scope.
 */
import { createHash } from 'node:crypto';
import type { ContainerConfig } from '@gantry/oci';
import { DEFAULT_SHELL, healthcheckConfig, resolveCommand } from './config';
import { expandInstruction, type Env } from './expand';
import { formatDuration } from './duration';
import type { Instruction } from './instructions';
import { goQuote, goQuoteRune } from '@gantry/format';
import { goQuoteList } from './text';

export interface HistoryContext {
  /** The environment the instruction was expanded with (before it ran). */
  env?: Env;
  escapeChar?: string;
  /** The stage's config after the instruction: CMD, ENTRYPOINT and WORKDIR show its values, its Shell prefixes the line. */
  config?: ContainerConfig;
  /** RUN: `StageArgs.historyArgs(configEnv)` (undefined: no build args in scope). */
  buildArgs?: readonly string[];
  /** COPY/ADD: the sources' hash (`file:<hex>`, `dir:<hex>`, or `multiSourceHash` of several). */
  sourceHash?: string;
}

/** The hash of several COPY/ADD sources: `multi:` and sha256 of their hashes joined by commas. */
export function multiSourceHash(hashes: readonly string[]): string {
  if (hashes.length === 1) return hashes[0]!;
  return `multi:${createHash('sha256').update(hashes.join(',')).digest('hex')}`;
}

/**
 * `created_by` for `instr` (as parsed: it is expanded here with `ctx.env`), or undefined for FROM,
 * which writes no history of its own.
 */
export function historyCreatedBy(instr: Instruction, ctx: HistoryContext = {}): string | undefined {
  const i = expandInstruction(instr, ctx.env ?? {}, ctx.escapeChar);
  const shell = (ctx.config?.Shell ?? DEFAULT_SHELL).join(' ');
  const nop = (comment: string): string => `${shell} #(nop)  ${comment}`;
  const nopString = (comment: string): string => `${shell} #(nop) ${comment}`;
  switch (i.kind) {
    case 'FROM':
      return undefined;
    case 'RUN': {
      const cmd = resolveCommand(i.command, ctx.config?.Shell ?? DEFAULT_SHELL);
      const prefix = ctx.buildArgs === undefined ? [] : [`|${ctx.buildArgs.length}`, ...ctx.buildArgs];
      return [...prefix, ...cmd].join(' ');
    }
    case 'COPY':
    case 'ADD': {
      const chown = i.chown ? `--chown=${i.chown}` : '';
      return nopString(`${i.kind} ${chown}${ctx.sourceHash ?? ''} in ${i.dest} `);
    }
    case 'WORKDIR':
      return nopString(`WORKDIR ${ctx.config?.WorkingDir ?? i.path}`);
    case 'ENV':
      return nop(`ENV ${i.pairs.map((p) => `${p.key}=${p.value}`).join(' ')}`);
    case 'LABEL':
      return nop(`LABEL ${i.pairs.map((p) => `${p.key}=${p.value}`).join(' ')}`);
    case 'ARG':
      return nop(`ARG ${i.args.map((a) => (a.value === undefined ? a.key : `${a.key}=${a.value}`)).join(' ')}`);
    case 'MAINTAINER':
      return nop(`MAINTAINER ${i.maintainer}`);
    case 'EXPOSE':
      // Docker prints the ports as written (sorted), not expanded
      return nop(`EXPOSE ${instr.kind === 'EXPOSE' ? instr.ports.join(' ') : ''}`);
    case 'VOLUME':
      return nop(`VOLUME [${i.volumes.join(' ')}]`);
    case 'USER':
      return nop(`USER ${i.user}`);
    case 'STOPSIGNAL':
      return nop(`STOPSIGNAL ${i.signal}`);
    case 'ONBUILD':
      return nop(`ONBUILD ${i.expression}`);
    case 'SHELL':
      return nop(`SHELL [${i.shell.join(' ')}]`);
    case 'CMD':
      return nop(`CMD ${goQuoteList(ctx.config?.Cmd ?? resolveCommand(i.command, ctx.config?.Shell ?? DEFAULT_SHELL))}`);
    case 'ENTRYPOINT':
      if (ctx.config) return nop(`ENTRYPOINT ${goQuoteList(ctx.config.Entrypoint ?? [])}`);
      return nop(`ENTRYPOINT ${goQuoteList(i.command.form === 'exec' || i.command.command !== '' ? resolveCommand(i.command) : [])}`);
    case 'HEALTHCHECK': {
      // Go's %q of Docker's *HealthConfig: test, the four durations quoted, retries as a rune
      const h = healthcheckConfig(i.health);
      const d = (ns: number | undefined): string => goQuote(formatDuration(ns ?? 0));
      return nop(
        `HEALTHCHECK &{${goQuoteList(h.Test ?? [])} ${d(h.Interval)} ${d(h.Timeout)} ${d(h.StartPeriod)} ${d(h.StartInterval)} ${goQuoteRune(h.Retries ?? 0)}}`,
      );
    }
  }
}
