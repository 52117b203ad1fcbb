/**
 * docker's pattern for commands over several names (rm, stop, kill, wait, rmi): each name is
 * tried, a success prints its line, failures are printed after on stderr, and any failure
 * makes the status 1.
 */
import type { CliContext } from '../context';
import { CliError, describeError } from '../errors';

export async function forEach(ctx: CliContext, names: readonly string[], act: (name: string) => Promise<string>): Promise<void> {
  const errors: string[] = [];
  for (const name of names) {
    try {
      ctx.stdout.write(await act(name));
    } catch (e) {
      const d = describeError(e);
      // an unreachable daemon is the same for every name: stop at the first
      if (d.message.startsWith('Cannot connect')) throw e;
      errors.push(d.message);
    }
  }
  if (errors.length > 0) throw new CliError(errors.join('\n'), 1);
}
