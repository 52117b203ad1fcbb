/** `logs`: each container's output line by line, prefixed with its name (padded, coloured on a TTY). */
import type { ContainerSummary, EngineClient } from '@gantry/client';
import { nameOf } from './containers';
import type { Output } from './output';

const COLOURS = [36, 33, 32, 35, 34, 96, 93, 92, 95, 94];

export interface LogsOptions {
  follow?: boolean;
  tail?: number | 'all';
  timestamps?: boolean;
  colour?: boolean;
  prefix?: boolean;
  signal?: AbortSignal;
}

/** Colour for a terminal unless NO_COLOR is set (no-color.org), as the gantry CLI decides. */
export function colourFor(isTTY: boolean | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  return isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === '');
}

export async function streamLogs(client: EngineClient, containers: ContainerSummary[], o: LogsOptions, out: Output): Promise<void> {
  const width = Math.max(0, ...containers.map((c) => nameOf(c).length));
  await Promise.all(
    containers.map(async (c, i) => {
      const name = nameOf(c);
      const label = o.prefix === false ? '' : `${name.padEnd(width)}  | `;
      const prefix = o.colour === true && label !== '' ? `\x1b[${COLOURS[i % COLOURS.length]}m${label}\x1b[0m` : label;
      let pending = '';
      try {
        for await (const f of client.containers.logs(c.Id, { follow: o.follow, tail: o.tail, timestamps: o.timestamps, signal: o.signal })) {
          const text = pending + Buffer.from(f.data).toString('utf8');
          const lines = text.split('\n');
          pending = lines.pop() ?? '';
          if (lines.length > 0) out.write(lines.map((l) => `${prefix}${l}\n`).join(''));
        }
      } catch (e) {
        if (!(o.signal?.aborted ?? false)) throw e;
      }
      if (pending !== '') out.write(`${prefix}${pending}\n`);
    }),
  );
}
