/** ExecSync: a process in a running container through Tasks.Exec, its output collected, bounded by the timeout. */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { cri } from '@gantry/api';
import { errdefs } from '@gantry/linux';
import type { Process, Spec } from '@gantry/runtime';
import { PROCESS_TYPE } from './clients';
import { FifoReader, makeFifo } from './container-log';
import type { CriContext } from './context';

const MAX_OUTPUT = 16 << 20;

export async function execSync(c: CriContext, req: cri.ExecSyncRequest): Promise<cri.ExecSyncResponse> {
  const rec = c.store.container(req.containerId);
  if (rec.state !== 'running') throw errdefs.failedPrecondition(`container ${rec.id} is not running`);
  if (req.cmd.length === 0) throw errdefs.invalidArgument('exec command is empty');
  const base = (rec.spec as Spec).process;
  if (!base) throw errdefs.internal(`container ${rec.id} has no process spec`);
  const process: Process = { ...base, args: req.cmd, terminal: false };
  const execId = `exec-${crypto.randomBytes(8).toString('hex')}`;
  const dir = path.join(c.stateDir, 'containers', rec.id);
  const fifos = [
    { stream: 'stdout' as const, path: path.join(dir, `${execId}-stdout`) },
    { stream: 'stderr' as const, path: path.join(dir, `${execId}-stderr`) },
  ];
  for (const f of fifos) makeFifo(f.path);
  const out = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  let size = 0;
  const reader = new FifoReader(
    fifos,
    (s, d) => {
      if (size + d.length > MAX_OUTPUT) return;
      size += d.length;
      out[s].push(d);
    },
    false,
  );
  const call = c.cd;
  try {
    await call.call(call.tasks, call.tasks.exec, {
      containerId: rec.id,
      execId,
      stdin: '',
      stdout: fifos[0].path,
      stderr: fifos[1].path,
      terminal: false,
      spec: { typeUrl: PROCESS_TYPE, value: Buffer.from(JSON.stringify(process)) },
    });
    reader.shimOpened();
    await call.call(call.tasks, call.tasks.start, { containerId: rec.id, execId });
    const timeoutMs = Number(req.timeout) * 1000;
    let exitCode: number;
    try {
      const r = await call.call(call.tasks, call.tasks.wait, { containerId: rec.id, execId }, timeoutMs > 0 ? timeoutMs : 0);
      exitCode = r.exitStatus;
    } catch (e) {
      if ((e as { code?: unknown }).code !== 4) throw e;
      await call.call(call.tasks, call.tasks.kill, { containerId: rec.id, execId, signal: 9, all: false }).catch(() => undefined);
      throw new errdefs.KindError('deadline-exceeded', `command ${JSON.stringify(req.cmd.join(' '))} timed out after ${req.timeout}s`);
    }
    await Promise.race([reader.ended, new Promise((r) => setTimeout(r, 2000).unref())]);
    return { stdout: Buffer.concat(out.stdout), stderr: Buffer.concat(out.stderr), exitCode };
  } finally {
    reader.shimOpened();
    await call.call(call.tasks, call.tasks.deleteProcess, { containerId: rec.id, execId }).catch(() => undefined);
    for (const f of fifos) fs.rmSync(f.path, { force: true });
  }
}
