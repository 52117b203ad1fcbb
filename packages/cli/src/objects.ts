/** What the object commands (network, volume, image, system) share: inspect output, prune prompts, key=value lists. */
import * as readline from 'node:readline';
import { InvalidArgumentError } from 'commander';
import { NotFoundError } from '@gantry/client';
import type { CliContext } from './context';
import { CliError, describeError } from './errors';
import { execute, indentedJson, plainTemplate } from './format';

/**
 * docker's `<object> inspect`: found objects as a JSON array (or one `-f` line each), then the
 * daemon's error for each one not found, status 1.
 */
export async function inspectEach(
  ctx: CliContext,
  names: readonly string[],
  format: string | undefined,
  get: (name: string) => Promise<unknown>,
): Promise<void> {
  const custom = format !== undefined && format !== '' && format !== 'json';
  const template = custom ? plainTemplate(format) : undefined;
  const found: unknown[] = [];
  const errors: string[] = [];
  for (const name of names) {
    try {
      found.push(await get(name));
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
      errors.push(describeError(e).message);
    }
  }
  if (template !== undefined) for (const v of found) ctx.stdout.write(execute(template, v) + '\n');
  else ctx.stdout.write(found.length === 0 ? '[]\n' : indentedJson(found));
  if (errors.length > 0) throw new CliError(errors.join('\n'), 1);
}

/** docker's prune prompt: the warning, then `Are you sure you want to continue? [y/N] `; true only for y/yes. */
export async function confirm(ctx: CliContext, warning: string): Promise<boolean> {
  ctx.stdout.write(`${warning}\nAre you sure you want to continue? [y/N] `);
  const answer = await readLine();
  return /^y(es)?$/i.test(answer.trim());
}

function readLine(): Promise<string> {
  return new Promise((resolve) => {
    const rl = readline.createInterface({ input: process.stdin, terminal: false });
    let done = false;
    const finish = (s: string): void => {
      if (done) return;
      done = true;
      rl.close();
      process.stdin.pause();
      resolve(s);
    };
    rl.once('line', finish);
    rl.once('close', () => finish(''));
  });
}

/** `--label a=b` / `-o k=v` lists as a map (a bare key maps to ""). */
export function keyValues(list: readonly string[] | undefined): Record<string, string> | undefined {
  if (list === undefined || list.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const item of list) {
    const i = item.indexOf('=');
    if (i === 0) throw new InvalidArgumentError(`invalid key/value pair: ${item}`);
    if (i < 0) out[item] = '';
    else out[item.slice(0, i)] = item.slice(i + 1);
  }
  return out;
}

/** A labels map as docker's list columns print it: `k=v` joined by commas. */
export function joinLabels(labels: Record<string, string> | null | undefined): string {
  return Object.entries(labels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** Go's time.Time String() of an RFC 3339 time, in UTC with the fraction Go keeps ("2026-12-03 10:32:35.894 +0000 UTC"). */
export function goTimeString(rfc3339: string): string {
  const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$/.exec(rfc3339);
  if (m === null) return rfc3339;
  if (m[4] !== 'Z') {
    const d = new Date(rfc3339);
    return `${d.toISOString().slice(0, 10)} ${d.toISOString().slice(11, 19)} +0000 UTC`;
  }
  const frac = (m[3] ?? '').replace(/0+$/, '');
  return `${m[1]!} ${m[2]!}${frac === '.' ? '' : frac} +0000 UTC`;
}
