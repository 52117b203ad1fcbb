/** The typed client (@gantry/client) for a harness's gantryd, and small helpers its suites share. */
import { spawnSync } from 'node:child_process';
import { EngineClient } from '@gantry/client';
import type { GantrydHarness } from './gantryd';

export function clientFor(h: GantrydHarness, timeoutMs = 60000): EngineClient {
  return new EngineClient({ host: `unix://${h.sock}`, timeoutMs, env: {} });
}

/** A tar of directory `dir` (the system tar). */
export function tarOf(dir: string): Buffer {
  const r = spawnSync('tar', ['-c', '-C', dir, '.'], { maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`tar -c: ${r.stderr.toString()}`);
  return r.stdout;
}

/** Member names of a tar. */
export function tarNames(buf: Buffer): string[] {
  const r = spawnSync('tar', ['-tf', '-'], { input: buf });
  if (r.status !== 0) throw new Error(`tar -t: ${r.stderr.toString()}`);
  return r.stdout.toString().split('\n').filter(Boolean);
}

/** Every item of an async iterable. */
export async function drain<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** A whole byte stream. */
export async function readAll(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c);
  return Buffer.concat(chunks);
}

/** All output of frames (stdout and stderr) as one string. */
export async function collect(frames: AsyncIterable<{ data: Buffer }>): Promise<string> {
  const out: Buffer[] = [];
  for await (const f of frames) out.push(f.data);
  return Buffer.concat(out).toString('utf8');
}
