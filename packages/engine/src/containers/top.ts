/** `docker top`: the host's `ps` output, cut to the processes of the container's task. */
import { execFileSync } from 'node:child_process';
import { errdefs } from '@gantry/linux';
import type { ContainerManager } from './manager';

export interface TopResult {
  Titles: string[];
  Processes: string[][];
}

/** `ps <psArgs>` (default -ef) as dockerd's top returns it: the title row and the rows of the task's pids. */
export async function top(m: ContainerManager, ref: string, psArgs: string | null): Promise<TopResult> {
  const rec = m.store.get(ref);
  if (!rec.State.Running) throw errdefs.conflict(`Container ${rec.Id} is not running`);
  const pids = (await m.cd.call(m.cd.tasks, m.cd.tasks.listPids, { containerId: rec.Id })).processes.map((p) => p.pid);
  const args = (psArgs || '-ef').split(/\s+/).filter(Boolean);
  let out: string;
  try {
    out = execFileSync('ps', args, { encoding: 'utf8' });
  } catch (e) {
    throw errdefs.internal(`ps: ${(e as Error).message}`);
  }
  return psRows(out, pids);
}

/** The title row and the rows whose PID column is one of `pids`. */
function psRows(out: string, pids: number[]): TopResult {
  const lines = out.trimEnd().split('\n');
  const titles = lines[0]!.trim().split(/\s+/);
  const pidCol = titles.indexOf('PID');
  if (pidCol < 0) throw errdefs.internal("Couldn't find PID field in ps output");
  const set = new Set(pids);
  const processes = lines.slice(1).flatMap((l) => {
    const f = l.trim().split(/\s+/);
    if (!set.has(Number(f[pidCol]))) return [];
    // the last column (the command) may contain spaces
    return [[...f.slice(0, titles.length - 1), f.slice(titles.length - 1).join(' ')]];
  });
  return { Titles: titles, Processes: processes };
}
