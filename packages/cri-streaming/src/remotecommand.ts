/**
 * Exec and attach over whichever transport delivered the streams: run the runtime call, end the
 * output streams, then report on the error stream as kubelet does (v4+: a JSON Status, always;
 * older protocols: the failure's message only).
 */
import type { Readable, Writable } from 'node:stream';
import type { Logger } from '@gantry/linux';
import { terminalSizes } from './resize';
import type { AttachRequest, ExecRequest, StreamingRuntime } from './runtime';
import { exitCodeStatus, internalErrorStatus, successStatus, type Status } from './status';

export interface CommandStreams {
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
  error: Writable;
  resize?: Readable;
}

export type CommandRequest = { kind: 'exec'; req: ExecRequest } | { kind: 'attach'; req: AttachRequest };

/** Resolves once `w` has flushed its end (or died). */
export function endWritable(w: Writable | undefined, data?: Buffer): Promise<void> {
  if (!w) return Promise.resolve();
  if (w.writableFinished || w.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    w.once('finish', resolve);
    w.once('close', resolve);
    w.once('error', () => resolve());
    if (w.writableEnded) return;
    if (data && data.length > 0) w.end(data);
    else w.end();
  });
}

/** No stream error may become an uncaught exception: the connection's end is reported elsewhere. */
export function guard(streams: (Readable | Writable | undefined)[], log: Logger): void {
  for (const s of streams) s?.on('error', (e: Error) => log.debug('stream error', { err: e.message }));
}

export async function runCommand(cmd: CommandRequest, runtime: StreamingRuntime, streams: CommandStreams, version: number, log: Logger): Promise<void> {
  guard([streams.stdin, streams.stdout, streams.stderr, streams.error, streams.resize], log);
  const tty = cmd.req.tty;
  const io = {
    stdin: streams.stdin,
    stdout: streams.stdout,
    stderr: streams.stderr,
    tty,
    resize: tty && streams.resize ? terminalSizes(streams.resize) : undefined,
  };
  let status: Status;
  try {
    if (cmd.kind === 'exec') {
      const code = await runtime.exec(cmd.req.containerId, cmd.req.cmd, io);
      status = code === 0 ? successStatus() : exitCodeStatus(cmd.req.cmd, code);
    } else {
      await runtime.attach(cmd.req.containerId, io);
      status = successStatus();
    }
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    log.warn(`${cmd.kind} failed`, { containerId: cmd.req.containerId, err: msg });
    status = internalErrorStatus(`error ${cmd.kind === 'exec' ? 'executing command' : 'attaching'} in container: ${msg}`);
  }
  await Promise.all([endWritable(streams.stdout), endWritable(streams.stderr)]);
  let report: Buffer | undefined;
  if (version >= 4) report = Buffer.from(JSON.stringify(status));
  else if (status.status !== 'Success') report = Buffer.from(status.message ?? 'error');
  await endWritable(streams.error, report);
}
