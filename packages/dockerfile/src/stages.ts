/**
 * Which stages a build runs. A stage depends on an earlier stage its FROM names (after the
 * global ARGs are expanded) and on the stages its `COPY --from=<name|index>` name; `--target`
 * picks the last stage to build (by name, any case), and only what it needs is built.
 * `RUN --mount=from=` is BuildKit's and does not count here.
 */
import type { BuildArgs } from './build-args';
import type { Dockerfile, Stage } from './dockerfile';
import { InstructionValueError, UnknownTargetError } from './errors';
import { expandWord } from './expand';

export interface StageOptions {
  /** `--target`: the stage to stop at (default: the last one). */
  target?: string;
  /** The build's args, for FROM lines that use global ARGs (`FROM $BASE`). */
  buildArgs?: BuildArgs;
  /** Every stage up to the target, as Docker's classic builder runs them, instead of only the needed ones. */
  all?: boolean;
}

/** The stage an expanded FROM or `--from` names, if it names one defined before `before`. */
function stageNamed(df: Dockerfile, name: string, before: number): Stage | undefined {
  const lower = name.toLowerCase();
  return df.stages.find((s) => s.index < before && s.name === lower);
}

/** The stages `stage` builds on directly (its FROM, its `COPY --from`s), by index. */
export function stageDependencies(df: Dockerfile, stage: Stage, opts: Pick<StageOptions, 'buildArgs'> = {}): number[] {
  const deps = new Set<number>();
  const env = opts.buildArgs?.globalEnv() ?? new Map<string, string>();
  const base = stageNamed(df, expandWord(stage.from.image, env, df.escapeChar), stage.index);
  if (base) deps.add(base.index);
  for (const i of stage.instructions) {
    const from = i.kind === 'COPY' ? i.from : undefined;
    if (from === undefined || from === '') continue;
    const named = stageNamed(df, from, stage.index);
    if (named) {
      deps.add(named.index);
      continue;
    }
    if (/^[+-]?[0-9]+$/.test(from)) {
      const ix = Number(from);
      if (ix === stage.index) throw new InstructionValueError(`invalid from flag value ${from}: refers to current build stage`);
      if (ix < 0 || ix > stage.index) throw new InstructionValueError(`invalid from flag value ${from}: index out of bounds`);
      deps.add(ix);
    }
  }
  return [...deps].sort((a, b) => a - b);
}

/**
 * The stages to build for `target`, in Dockerfile order. Throws UnknownTargetError for a target
 * no stage is named, InstructionValueError for a repeated stage name or a `--from` index that
 * is not an earlier stage.
 */
export function stagesFor(df: Dockerfile, opts: StageOptions = {}): Stage[] {
  const seen = new Set<string>();
  for (const s of df.stages) {
    if (s.name === undefined) continue;
    if (seen.has(s.name)) throw new InstructionValueError(`${s.name} stage name already used`);
    seen.add(s.name);
  }
  let last = df.stages[df.stages.length - 1]!;
  if (opts.target !== undefined && opts.target !== '') {
    const t = opts.target.toLowerCase();
    const found = df.stages.find((s) => s.name === t);
    if (!found) throw new UnknownTargetError(opts.target);
    last = found;
  }
  if (opts.all) return df.stages.slice(0, last.index + 1);
  const needed = new Set<number>([last.index]);
  // dependencies only point backwards, so one pass from the target down closes the set
  for (let i = last.index; i >= 0; i--) {
    if (!needed.has(i)) continue;
    for (const d of stageDependencies(df, df.stages[i]!, opts)) needed.add(d);
  }
  return df.stages.filter((s) => needed.has(s.index));
}

/**
 * A stage's base as the classic builder resolves it: FROM's image and --platform expanded with
 * the global ARGs; `stage` is set when the image names an earlier stage (build on its result),
 * otherwise `image` is an image reference or `scratch`. An empty expansion is Docker's
 * `base name ($X) should not be blank`.
 */
export function resolveFrom(df: Dockerfile, stage: Stage, buildArgs?: BuildArgs): { image: string; platform?: string; stage?: Stage } {
  const env = buildArgs?.globalEnv() ?? new Map<string, string>();
  const image = expandWord(stage.from.image, env, df.escapeChar);
  if (image === '') throw new InstructionValueError(`base name (${stage.from.image}) should not be blank`);
  const out: { image: string; platform?: string; stage?: Stage } = { image };
  if (stage.from.platform !== undefined) out.platform = expandWord(stage.from.platform, env, df.escapeChar);
  const named = stageNamed(df, image, stage.index);
  if (named) out.stage = named;
  return out;
}
