/**
 * `docker commit --change` (and `docker import --change`): the changes are read as Dockerfile
 * lines (joined by newlines, so a trailing `\` continues into the next change) and only the
 * instructions that change the config are allowed.
 */
import { InvalidChangeError } from './errors';
import { InstructionError, toInstruction, type Instruction } from './instructions';
import { LineError, parseLines } from './parser';

const ALLOWED = new Set(['cmd', 'entrypoint', 'env', 'expose', 'healthcheck', 'label', 'onbuild', 'stopsignal', 'user', 'volume', 'workdir']);

/** The changes as instructions (apply them with `applyToConfig`); throws InvalidChangeError. */
export function parseChanges(changes: readonly string[]): Instruction[] {
  const text = changes.join('\n');
  if (text.trim() === '') return [];
  let nodes;
  try {
    nodes = parseLines(text).nodes;
  } catch (e) {
    if (e instanceof LineError) throw new InvalidChangeError(e.reason);
    throw e;
  }
  for (const n of nodes) if (!ALLOWED.has(n.keyword.toLowerCase())) throw new InvalidChangeError(`${n.keyword} is not a valid change command`);
  return nodes.map((n) => {
    try {
      return toInstruction(n);
    } catch (e) {
      if (e instanceof InstructionError) throw new InvalidChangeError(e.message);
      throw e;
    }
  });
}
