import { execFile } from 'node:child_process';

export class CommandError extends Error {
  override name = 'CommandError';
  constructor(
    readonly argv: string[],
    readonly code: number | null,
    readonly stderr: string,
  ) {
    super(`${argv.join(' ')}: ${stderr.trim() || `exit status ${code}`}`);
  }
}

/** Run a host tool (ip, iptables, unshare) and return its stdout; CommandError when it fails. */
export function run(argv: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(argv[0]!, argv.slice(1), { encoding: 'utf8', maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new CommandError(argv, typeof err.code === 'number' ? err.code : null, stderr || err.message));
      else resolve(stdout);
    });
  });
}
