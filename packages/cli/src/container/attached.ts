/**
 * Starting a container with its streams attached (`run` without -d, `start -a`): attach before the
 * start so no output is lost, wait registered before the start too, then the session; the status
 * is the container's, or 0 after a detach.
 */
import * as fs from 'node:fs';
import type { HijackedStream, WaitCondition } from '@gantry/client';
import type { CliContext } from '../context';
import { runSession, type SessionEnd } from './session';
import type { InputStream } from './terminal';

export interface AttachedStart {
  id: string;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
  detachKeys?: string;
  sigProxy: boolean;
  /** `removed` for --rm (the wait outlives the removal), else `next-exit`. */
  waitCondition: WaitCondition;
  /** Called when the start fails (run maps the daemon's message to 125/126/127). */
  start: () => Promise<unknown>;
}

export async function startAttached(ctx: CliContext, a: AttachedStart): Promise<{ end: SessionEnd; status: number }> {
  const client = ctx.client();
  // aborted when the start fails or on a detach: a next-exit wait would hold the CLI forever
  const ac = new AbortController();
  const waited = client.containers.wait(a.id, { condition: a.waitCondition, signal: ac.signal });
  // the wait fails if the container is gone before it is asked; the status then comes from elsewhere
  waited.catch(() => undefined);
  let stream: HijackedStream | undefined;
  try {
    stream = await client.containers.attach(a.id, { stdin: a.stdin, stdout: a.stdout, stderr: a.stderr, stream: true, detachKeys: a.detachKeys });
    await a.start();
  } catch (e) {
    stream?.socket.destroy();
    ac.abort();
    throw e;
  }
  const end = await runSession(ctx, {
    stream,
    stdin: a.stdin ? (ctx.stdin as InputStream | undefined) : undefined,
    tty: a.tty,
    detachKeys: a.detachKeys,
    resize: (size) => client.containers.resize(a.id, size),
    proxySignal: a.sigProxy ? (s) => client.containers.kill(a.id, { signalName: s }) : undefined,
  });
  if (end === 'detached') {
    ac.abort();
    return { end, status: 0 };
  }
  const r = await waited;
  return { end, status: r.StatusCode };
}

/** `--cidfile`: refused when the file exists, as docker does. */
export function writeCidFile(path: string | undefined, id: string): void {
  if (path === undefined || path === '') return;
  fs.writeFileSync(path, id, { flag: 'wx' });
}
