/** Runs one command line and returns its exit status; every error becomes docker's message on stderr. */
import { CommanderError } from 'commander';
import { processContext, type CliContext } from './context';
import { describeError } from './errors';
import { buildProgram, usageError } from './program';

export async function runCli(argv: readonly string[], ctx?: CliContext): Promise<number> {
  let host: string | undefined;
  const c = ctx ?? processContext(process.env, () => host);
  const program = buildProgram(c);
  try {
    program.hook('preAction', (root) => {
      host = root.opts<{ host?: string }>().host;
    });
    await program.parseAsync([...argv], { from: 'user' });
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
