/**
 * Shared plumbing of the property-based (fast-check) fuzz tests, `*.fuzz.test.ts` in each package.
 *
 * Inside `npm test` each property runs briefly: `numRuns` samples (per property) and at most
 * BRIEF_MS. `npm run fuzz -- --time N` (tools/fuzz/run.mjs) sets GANTRY_FUZZ_SECONDS=N and runs the
 * same properties for N seconds each, with new seeds. A property that fails in that mode writes
 * its counterexample's bytes to the package's test/fuzz-corpus/<target>/ (GANTRY_FUZZ_SAVE=0 turns
 * that off), where the ordinary tests replay every file (`replayCorpus`).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as fc from 'fast-check';

const BRIEF_MS = 3000;
const seconds = Number(process.env.GANTRY_FUZZ_SECONDS ?? '0');
/** Long mode: `npm run fuzz`. */
export const longRun = Number.isFinite(seconds) && seconds > 0;

/** The jest timeout of one property's test. */
export const fuzzTimeout = longRun ? seconds * 1000 + 60_000 : BRIEF_MS + 60_000;

export interface FuzzOptions<T> {
  /** Samples inside `npm test` (the time limit may stop it earlier). */
  numRuns: number;
  /** Per-sample time limit (ms): a sample that takes longer fails, as a hang. */
  sampleTimeout?: number;
  /** The corpus directory for this target, and how a counterexample becomes bytes. */
  corpus?: { dir: string; bytes(example: T): Buffer };
}

function parameters<T>(opts: FuzzOptions<T>): fc.Parameters<[T]> {
  const base: fc.Parameters<[T]> = longRun
    ? { numRuns: Number.MAX_SAFE_INTEGER, interruptAfterTimeLimit: seconds * 1000, markInterruptAsFailure: false }
    : { numRuns: opts.numRuns, interruptAfterTimeLimit: BRIEF_MS, markInterruptAsFailure: false };
  if (process.env.GANTRY_FUZZ_SEED) base.seed = Number(process.env.GANTRY_FUZZ_SEED);
  if (opts.sampleTimeout) base.timeout = opts.sampleTimeout;
  return base;
}

function save<T>(opts: FuzzOptions<T>, example: T): void {
  if (!longRun || !opts.corpus || process.env.GANTRY_FUZZ_SAVE === '0') return;
  const bytes = opts.corpus.bytes(example);
  fs.mkdirSync(opts.corpus.dir, { recursive: true });
  const file = path.join(opts.corpus.dir, `crash-${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}.bin`);
  fs.writeFileSync(file, bytes);
  console.error(`fuzz: counterexample saved to ${file}`);
}

function report<T>(out: fc.RunDetails<[T]>): string {
  const err = out.errorInstance instanceof Error ? `${out.errorInstance.message}` : String(out.errorInstance);
  return `${fc.defaultReportMessage(out) ?? 'property failed'}\n\nThe failure:\n${err.slice(0, 4000)}`;
}

/** Check an async property of one arbitrary. */
export async function fuzzAsync<T>(arb: fc.Arbitrary<T>, check: (v: T) => Promise<void>, opts: FuzzOptions<T>): Promise<void> {
  const out = await fc.check(fc.asyncProperty(arb, check), parameters(opts));
  if (out.failed) {
    if (out.counterexample) save(opts, out.counterexample[0]);
    throw new Error(report(out));
  }
}

/** Check a synchronous property of one arbitrary. */
export function fuzz<T>(arb: fc.Arbitrary<T>, check: (v: T) => void, opts: FuzzOptions<T>): void {
  const out = fc.check(fc.property(arb, check), parameters(opts));
  if (out.failed) {
    if (out.counterexample) save(opts, out.counterexample[0]);
    throw new Error(report(out));
  }
}

/** The corpus files of a target (sorted), for the replay tests. */
export function corpusFiles(dir: string): { name: string; bytes: Buffer }[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((n) => n.endsWith('.bin'));
  } catch {
    return [];
  }
  return names.sort().map((name) => ({ name, bytes: fs.readFileSync(path.join(dir, name)) }));
}
