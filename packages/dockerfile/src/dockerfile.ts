/**
 * `parseDockerfile`: a Dockerfile's text to its global ARGs and build stages, or a
 * DockerfileSyntaxError naming the line, in Docker's words.
 */
import { DockerfileSyntaxError } from './errors';
import { InstructionError, toInstruction, type ArgInstruction, type FromInstruction, type Instruction } from './instructions';
import { LineError, parseLines } from './parser';

export interface Stage {
  /** 0-based position in the Dockerfile (what `COPY --from=0` names). */
  index: number;
  /** `FROM ... AS name`, lower-cased. */
  name?: string;
  from: FromInstruction;
  /** The stage's instructions after its FROM. */
  instructions: Instruction[];
}

export interface Dockerfile {
  /** `\` or a backtick (`# escape=`). */
  escapeChar: string;
  /** ARGs before the first FROM: usable in FROM lines only (unless a stage redeclares them). */
  args: ArgInstruction[];
  stages: Stage[];
  /** Parser directives given (`syntax`, `escape`, `check`). */
  directives: Record<string, string>;
  /** What Docker warns about but accepts (empty continuation lines). */
  warnings: string[];
}

export function parseDockerfile(text: string): Dockerfile {
  let parsed;
  try {
    parsed = parseLines(text);
  } catch (e) {
    if (e instanceof LineError) throw new DockerfileSyntaxError(e.startLine, e.reason, e.endLine);
    throw e;
  }
  const args: ArgInstruction[] = [];
  const stages: Stage[] = [];
  for (const node of parsed.nodes) {
    let instr: Instruction;
    try {
      instr = toInstruction(node);
    } catch (e) {
      if (e instanceof InstructionError) throw new DockerfileSyntaxError(node.startLine, e.message, node.endLine);
      throw e;
    }
    if (instr.kind === 'FROM') {
      const stage: Stage = { index: stages.length, from: instr, instructions: [] };
      if (instr.stageName !== undefined) stage.name = instr.stageName;
      stages.push(stage);
    } else if (stages.length > 0) stages[stages.length - 1]!.instructions.push(instr);
    else if (instr.kind === 'ARG') args.push(instr);
    else throw new DockerfileSyntaxError(node.startLine, 'no build stage in current context', node.endLine);
  }
  if (stages.length === 0) {
    const last = parsed.nodes[parsed.nodes.length - 1]!;
    throw new DockerfileSyntaxError(last.startLine, 'dockerfile contains no stages to build', last.endLine);
  }
  return { escapeChar: parsed.escapeChar, args, stages, directives: parsed.directives, warnings: parsed.warnings };
}
