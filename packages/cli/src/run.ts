/** Runs one command line and returns its exit status; every error becomes docker's message on stderr. */
import { CommanderError } from 'commander';
import { processContext, type CliContext } from './context';
import { resolveEndpoint } from './contexts';
import { describeError } from './errors';
import { goBoolFlags } from './options';
import { buildProgram, usageError } from './program';

export async function runCli(argv: readonly string[], ctx?: CliContext): Promise<number> {
  let host: string | undefined;
  const c = ctx ?? processContext(process.env, () => host);
  const program = buildProgram(c);
  try {
    program.hook('preAction', (root) => {
      host = resolveEndpoint(root.opts<{ host?: string; context?: string }>(), c.env).host;
    });
    await program.parseAsync(goBoolFlags(argv), { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
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
