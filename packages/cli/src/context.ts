/** What every command runs with: where to write, and a client made on first use (usage errors never connect). */
import { EngineClient } from '@gantry/client';

interface Output {
  write(s: string | Uint8Array): unknown;
}

export interface CliContext {
  stdout: Output;
  stderr: Output;
  /** What `-i` forwards (process.stdin; absent in unit tests). */
  stdin?: NodeJS.ReadableStream;
  env: NodeJS.ProcessEnv;
  client(): EngineClient;
}

export function processContext(env: NodeJS.ProcessEnv = process.env, host?: () => string | undefined): CliContext {
  let client: EngineClient | undefined;
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    // a getter: process.stdin is made on first use, and most commands never read it
    get stdin() {
      return process.stdin;
    },
    env,
    client: () => (client ??= new EngineClient({ host: host?.(), env })),
  };
}
