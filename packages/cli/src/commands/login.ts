/** `gantry login` / `gantry logout`: the daemon checks the credentials (POST /auth), then they go to docker's config.json (src/credentials.ts). */
import type { Command } from 'commander';
import type { CliContext } from '../context';
import { eraseAuth, HUB_KEY, registryKey, storeAuth } from '../credentials';
import { CliError } from '../errors';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export function loginCommands(parent: Command, ctx: CliContext): void {
  parent
    .command('login')
    .description('Authenticate to a registry')
    .argument('[SERVER]')
    .option('-p, --password <string>', 'Password or Personal Access Token (PAT)')
    .option('--password-stdin', 'Take the Password or Personal Access Token (PAT) from stdin')
    .option('-u, --username <string>', 'Username')
    .action(async (server: string | undefined, o: { password?: string; passwordStdin?: boolean; username?: string }) => {
      if (o.password !== undefined && o.passwordStdin === true) throw new CliError('--password and --password-stdin are mutually exclusive', 1);
      let password = o.password;
      if (o.passwordStdin === true) {
        if (o.username === undefined || o.username === '') throw new CliError('Must provide --username with --password-stdin', 1);
        password = (await readStdin()).replace(/\r?\n$/, '').replace(/\r$/, '');
      }
      if (o.username === undefined || password === undefined)
        throw new CliError('gantry login is non-interactive: give --username and --password-stdin (or --password)', 1);
      if (o.password !== undefined) ctx.stderr.write('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
      const address = server ?? HUB_KEY;
      await ctx.client().system.auth({ username: o.username, password, serveraddress: registryKey(address) });
      const path = storeAuth(ctx.env, address, o.username, password);
      ctx.stderr.write(
        `\nWARNING! Your credentials are stored unencrypted in '${path}'.\nConfigure a credential helper to remove this warning. See\nhttps://docs.docker.com/go/credential-store/\n\n`,
      );
      ctx.stdout.write('Login Succeeded\n');
    });

  parent
    .command('logout')
    .description('Log out from a registry')
    .argument('[SERVER]')
    .action((server: string | undefined) => {
      const key = registryKey(server ?? HUB_KEY);
      if (!eraseAuth(ctx.env, key)) {
        ctx.stdout.write(`Not logged in to ${key}\n`);
        return;
      }
      ctx.stdout.write(`Removing login credentials for ${key}\n`);
    });
}
