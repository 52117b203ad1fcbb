/** Runs one command line and returns its exit status; every error becomes docker's message on stderr. */
import { CommanderError } from 'commander';
import { processContext, type CliContext } from './context';
import { resolveEndpoint } from './contexts';
import { describeError } from './errors';
import { goBoolFlags } from './options';
import { buildProgram, usageError, type ComposeModule } from './program';

/**
 * Whether a command line may run `gantry compose` (or list the whole command tree: completion,
 * help). Only those load @gantry/compose, whose YAML parser, JSON-schema validator and schema are
 * over half the bundle: the rest start without parsing them (a chunk of its own in the bundle).
 */
export function needsCompose(argv: readonly string[]): boolean {
  return argv.some((a) => a === 'compose' || a === 'completion' || a === '__complete' || a === 'help');
}

function loadCompose(): Promise<ComposeModule> {
  return import('@gantry/compose');
}

/**
 * commander's errors, by shape: @gantry/compose's commands throw those of its own copy of
 * commander when run unbundled, which `instanceof` in this package's copy does not match.
 */
function isCommanderError(e: unknown): e is CommanderError {
  return (
    e instanceof CommanderError ||
    (e instanceof Error && typeof (e as Partial<CommanderError>).code === 'string' && (e as CommanderError).code.startsWith('commander.'))
  );
}

export async function runCli(argv: readonly string[], ctx?: CliContext): Promise<number> {
  let host: string | undefined;
  const c = ctx ?? processContext(process.env, () => host);
  const program = buildProgram(c, needsCompose(argv) ? await loadCompose() : undefined);
  try {
    program.hook('preAction', (root) => {
      host = resolveEndpoint(root.opts<{ host?: string; context?: string }>(), c.env).host;
    });
    await program.parseAsync(goBoolFlags(argv), { from: 'user' });
    return 0;
  } catch (e) {
    if (isCommanderError(e)) {
      const u = usageError(e, argv, program);
      if (u === undefined) return 0;
      c.stderr.write(u.message + '\n');
      return u.status;
    }
    const d = describeError(e);
    if (d.message !== '') c.stderr.write(d.message + '\n');
    return d.status;
  }
}
