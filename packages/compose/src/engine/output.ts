/** Where commands write, and docker compose v2's progress lines (` Container web-1  Started`). */
import type { EngineClient } from '@gantry/client';

export interface Output {
  write(s: string | Uint8Array): unknown;
  isTTY?: boolean;
}

/** What compose commands run with (the `gantry` CLI's context satisfies it). */
export interface ComposeContext {
  stdout: Output;
  stderr: Output;
  env: NodeJS.ProcessEnv;
  client(): EngineClient;
}

export type Resource = 'Container' | 'Network' | 'Volume' | 'Image';

export function progress(out: Output, kind: Resource, name: string, action: string): void {
  out.write(` ${kind} ${name}  ${action}\n`);
}
